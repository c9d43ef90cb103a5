@tab_sync @ifd @needs-expiry-dialog
Feature: Tabs kept in step by CRM's page script
  CRM 8.2/9.x's session script keeps the tabs of one browser in step through localStorage
  (`oss_mustSignOut`, `oss_showSignOut`): a Sign Out in one tab reaches the page open in another,
  which stops showing the user's data without waiting for its next action (OWASP WSTG-SESS-06;
  ASVS v5.0.0 7.4.1). Only deployments with that script (the session-expired dialog) run it.

  Scenario: Sign Out in one tab clears the page open in the other tab
    Given alice is signed in to CRM
    And she opens CRM in a second tab
    When she signs out through the profile menu
    Then the first tab's page shows no CRM data without any action there
