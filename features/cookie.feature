@cookie @ifd @fba
Feature: Authentication cookie attributes
  CRM's authentication cookies (MSISAuth* behind AD FS, MSCRMSession in CRM 4.0) must be Secure,
  HttpOnly, session cookies, with a SameSite the policy accepts (ASVS v5.0.0 3.3; WSTG-SESS-02);
  and no cookie may hold the user's password (ASVS v5.0.0 14.3.3; WSTG-ATHN-05).
  One sign-in, four checks: each check is its own rule with its own verdict, judged whatever the
  others found, so a misconfiguration still fails exactly the rule that owns it (one sign-in per
  attribute cost three sign-ins more per mode for no extra proof).

  Scenario: Authentication cookies are Secure, HttpOnly, SameSite and session cookies
    Given alice is signed in to CRM
    Then her authentication cookies carry Secure
    And her authentication cookies carry HttpOnly
    And her authentication cookies carry the SameSite the policy accepts
    And her authentication cookies die with the browser

  # Needs the user's password to look for it; Windows authentication types none.
  @needs-password
  Scenario: No cookie holds the password
    Given alice is signed in to CRM
    Then no cookie in her browser holds her password
