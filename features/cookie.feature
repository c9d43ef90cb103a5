@cookie @ifd @fba
Feature: Authentication cookie attributes
  CRM's authentication cookies (MSISAuth* behind AD FS, MSCRMSession in CRM 4.0) must be Secure,
  HttpOnly, session cookies, with a SameSite the policy accepts (ASVS v5.0.0 3.3; WSTG-SESS-02).
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
