@claims
Feature: Internal claims access: Windows authentication at AD FS
  On the intranet, AD FS signs users in to a claims-based CRM with Windows authentication
  (Kerberos) instead of its forms page. After a complete Sign Out (CRM and AD FS) the browser's
  ticket signs the user straight back in without a prompt, as Microsoft documents for this mode.
  Being back in because AD FS was never told of the sign-out is a defect all the same: the two
  causes are told apart here.

  Scenario: Sign Out ends the CRM and AD FS sessions; the way back in is Windows authentication
    Given alice has a Kerberos ticket
    And alice is signed in to CRM
    When she signs out through the profile menu
    Then replaying the cookies from before sign-out is refused by the server
    And AD FS has ended her single sign-on session
    And opening CRM again signs her back in through Windows authentication at AD FS
