@tabs @ifd @fba
Feature: Tabs
  Tabs of one browser share one cookie jar and one server session. Signing out in one tab must
  sign out the others at their next action; closing a tab (not the last) is not a sign-out
  (OWASP WSTG-SESS-06).

  Scenario: Sign Out in one tab signs out the other tab
    Given alice is signed in to CRM
    And she opens CRM in a second tab
    When she signs out through the profile menu
    Then the first tab is signed out at its next action
    And the cookies left in the browser match the snapshot

  Scenario: Closing one of two tabs keeps the session
    Given alice is signed in to CRM
    And she opens CRM in a second tab
    When she closes the second tab
    Then her session in the remaining tab is alive
