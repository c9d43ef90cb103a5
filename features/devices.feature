@devices @ifd @fba @two-browsers
Feature: Several devices
  One user signed in on two devices has two sessions. As CRM ships, Sign Out on one leaves the
  other signed in; with access token management (WSFedNonceCookieEnabled) on, it signs the other
  out too. The verdict says which happened and whether the feature was on, and the policy says
  what must (devices.access-token-management: signed out where it is on). The administrator's
  "end all sessions" must end every device's session (ASVS v5.0.0 7.4.5, 7.5.2).

  Scenario: Sign Out on one device leaves the other device as the policy says
    Given alice is signed in to CRM on two devices
    When she signs out through the profile menu
    Then her other device's session is as the policy says

  # bob, not alice: scenarios run concurrently against one emulator, and ending alice's sessions
  # would sign out the other scenarios' alice too.
  @needs-user-bob @needs-admin-end-sessions
  Scenario: The administrator ends all of a user's sessions on every device
    Given bob is signed in to CRM on two devices
    When the administrator ends all of bob's sessions
    Then both of his devices are signed out
