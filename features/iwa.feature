@iwa
Feature: Integrated Windows Authentication
  With Windows authentication there is no application session: the browser authenticates every
  connection with its Kerberos ticket. The default policy expects a silent re-login after Sign Out
  (the only IWA logout is closing every browser window); a stricter policy may forbid it.

  Scenario: With a Kerberos ticket the browser signs in with no prompt
    Given alice has a Kerberos ticket
    Then opening CRM signs her in without a prompt

  Scenario: After Sign Out, opening CRM again signs the user straight back in
    Given alice has a Kerberos ticket
    And alice is signed in to CRM
    When she signs out through the profile menu
    Then opening CRM again signs her straight back in
    And the cookies left in the browser match the snapshot

  Scenario: Without a Kerberos ticket the server refuses and opens no session
    Given a browser without a Kerberos ticket
    Then the server refuses it with a Windows authentication challenge

  # Automatic sign-in turned off (no Negotiate allowlist, not in the Local intranet zone): the
  # browser asks, and sends the typed credentials with NTLM. Does Sign Out make it ask again?
  @needs-password
  Scenario: With automatic sign-in turned off, opening CRM after Sign Out asks for credentials
    Given alice signs in to CRM by typing her credentials into the browser's prompt
    When she signs out of that browser through the profile menu
    Then opening CRM again asks her for credentials in the browser's prompt

  @needs-password
  Scenario: With automatic sign-in turned off, closing the browser after Sign Out makes it ask again
    Given alice signs in to CRM by typing her credentials into the browser's prompt
    When she signs out of that browser through the profile menu
    And she closes that browser and opens it again
    Then opening CRM in the reopened browser asks her for credentials in the browser's prompt
