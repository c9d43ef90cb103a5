@browser_close @ifd @fba @reopens-browser
Feature: Closing the browser
  CRM's and AD FS's authentication cookies are session cookies: closing the browser ends the
  session in it. With "Continue where you left off" Chromium restores session cookies, which the
  policy may accept (OWASP WSTG-SESS-02, WSTG-SESS-06).

  Scenario: Closing the browser ends the session
    Given alice is signed in to CRM
    When she closes the browser and opens it again
    Then opening CRM does not sign her in without credentials

  Scenario: Closing the browser with "continue where you left off"
    Given alice is signed in to CRM in a browser that continues where it left off
    When she closes the browser and opens it again continuing where she left off
    Then opening CRM after the restored session is as the policy says
