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
