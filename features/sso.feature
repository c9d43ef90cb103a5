@sso @ifd @fba @needs-identity-provider
Feature: Single sign-on through AD FS
  CRM's sign-out must reach AD FS (wa=wsignout1.0). If it does not, the AD FS session cookie signs
  the user straight back in the next time CRM is opened: the most reported real problem with
  on-premises sign-out (MicrosoftDocs/dynamics-365-customer-engagement issue 3217). The same holds
  for any application that signs in through an identity provider on another host (SAML 2.0 single
  logout, OpenID Connect RP-initiated logout, CAS logout): these scenarios run wherever the
  sign-in goes through one, whatever the mode.

  Scenario: After signing out, opening CRM again asks for credentials
    Given alice is signed in to CRM
    When she signs out through the profile menu
    Then opening CRM again asks for her credentials
    And the cookies left in the browser match the snapshot

  # WS-Federation only: other protocols have no reply address of this kind.
  @needs-ws-federation
  Scenario: A sign-out address replying to another host does not send the browser there
    Given alice is signed in to CRM
    When she opens AD FS's sign-out with a reply address on another host
    Then the browser is not sent to that host

  @needs-other-relying-party
  Scenario: Sign Out of CRM signs out of another application that uses the same AD FS
    Given alice is signed in to CRM
    And she is also signed in to another application through AD FS
    When she signs out through the profile menu
    Then the other application is signed out too

  # AD FS's clean-up requests come from its sign-out page: to an application on another site
  # they are third-party requests, which such a browser sends without the application's cookie.
  @needs-other-relying-party
  Scenario: Sign Out of CRM in a browser that blocks third-party cookies, with another application
    Given alice's browser blocks third-party cookies
    And alice is signed in to CRM
    And she is also signed in to another application through AD FS
    When she signs out through the profile menu
    Then the other application is as the policy says for a browser that blocks third-party cookies

  # "Keep me signed in" makes AD FS's SSO cookie persistent (it survives closing the browser);
  # Sign Out must end that session too (docs/crm-adfs-facts.md §4.1).
  @needs-kmsi @reopens-browser
  Scenario: With Keep me signed in, Sign Out, close and reopen the browser: CRM asks for credentials
    Given alice is signed in to CRM with Keep me signed in
    When she signs out through the profile menu
    And she closes the browser and opens it again
    Then opening CRM after Keep me signed in asks for her credentials
