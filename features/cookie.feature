@cookie @ifd @fba
Feature: Authentication cookie attributes
  CRM's authentication cookies (MSISAuth* behind AD FS, MSCRMSession in CRM 4.0) must be Secure,
  HttpOnly, session cookies, with a SameSite the policy accepts (ASVS v5.0.0 3.3; WSTG-SESS-02);
  and no cookie may hold the user's password (ASVS v5.0.0 14.3.3; WSTG-ATHN-05).
  One scenario per attribute, so each misconfiguration fails the rule that owns it.

  Scenario: Authentication cookies are Secure
    Given alice is signed in to CRM
    Then her authentication cookies carry Secure

  Scenario: Authentication cookies are HttpOnly
    Given alice is signed in to CRM
    Then her authentication cookies carry HttpOnly

  Scenario: Authentication cookies carry an accepted SameSite
    Given alice is signed in to CRM
    Then her authentication cookies carry the SameSite the policy accepts

  Scenario: Authentication cookies are session cookies
    Given alice is signed in to CRM
    Then her authentication cookies die with the browser

  # Needs the user's password to look for it; Windows authentication types none.
  @needs-password
  Scenario: No cookie holds the password
    Given alice is signed in to CRM
    Then no cookie in her browser holds her password
