@reauth_dialog @timeout @ifd @needs-expiry-dialog
Feature: The re-authenticate dialog at the expiry warning
  CRM 8.2/9.x's session script shows a re-authenticate dialog at the expiry warning; its Sign In
  opens dlg_prompt_reauthenticate.aspx, which asks AD FS for a new token: silently while AD FS
  single sign-on lives, with credentials once it has ended. The session must be renewed by the
  identity provider, never extended by the application alone (OWASP WSTG-SESS-07; ASVS v5.0.0
  7.3.2, 7.6.1). Only deployments with that script (the session-expired dialog) run it.

  Scenario: At the warning, Sign In in the re-authenticate dialog renews the session through AD FS
    Given alice is signed in to CRM
    Then at the warning, Sign In in the re-authenticate dialog renews her session with a new token
