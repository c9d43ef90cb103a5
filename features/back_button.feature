@back_button @ifd @fba
Feature: Back button after Sign Out
  After Sign Out, pressing Back (or reloading) must not show CRM data again: authenticated pages
  must not be kept in the back/forward cache or the HTTP cache (OWASP WSTG-ATHN-06).

  Scenario: Back after Sign Out shows no CRM data
    Given alice is signed in to CRM
    And she opens her active accounts
    When she signs out through the profile menu
    Then pressing Back and reloading shows no CRM data
    And the cookies left in the browser match the snapshot

  @iwa
  Scenario: Signed-in pages forbid storing
    Given alice is signed in to CRM
    Then the signed-in start page forbids storing
