@sign_out @ifd @fba
Feature: Sign Out
  Signing out from the profile menu must end the session on the server too, not only in the
  browser (OWASP WSTG-SESS-06; ASVS v5.0.0 7.4.1): on every endpoint the browser used while signed
  in, not only the one the harness asks.

  Scenario: Sign Out from the profile menu ends the session
    Given alice is signed in to CRM
    When she signs out through the profile menu
    Then the browser shows a signed-out page
    And no CRM authentication cookie is left in the browser
    And replaying the cookies from before sign-out is refused by the server
    And replaying every request the browser made before sign-out is refused by the server
    And the cookies left in the browser match the snapshot
