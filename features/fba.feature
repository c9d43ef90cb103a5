@fba
Feature: CRM 4.0 forms authentication: Log Out
  CRM 4.0's Internet-facing deployment signs users in with its own form and an MSCRMSession ticket
  cookie. Logging out must end the ticket on the server: after Log Out and reopening the browser a
  fresh login is required, and the old ticket is refused (OWASP WSTG-SESS-06: ASP.NET-style forms
  tickets are the named example of a logout that only clears the client).

  @reopens-browser
  Scenario: Log Out, close the browser and reopen it: a fresh login is required
    Given alice is signed in to CRM
    When she signs out through the profile menu
    And she closes the browser and opens it again
    Then a fresh login is required
    And replaying the cookies from before sign-out is refused by the server
    And the cookies left in the browser match the snapshot
