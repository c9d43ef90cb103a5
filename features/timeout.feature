@timeout
Feature: Session timeouts
  Idle and absolute timeouts must be enforced on the server at the configured values
  (OWASP WSTG-SESS-07; ASVS v5.0.0 7.3.1, 7.3.2). The values come from the target's `timeouts`;
  the embedded emulator is started with short ones (seconds) for these scenarios.

  @ifd @fba @needs-idle-timeout
  Scenario: Inactivity ends the session at the configured idle timeout
    Given alice is signed in to CRM
    When she stays idle
    Then the session ends at the configured idle timeout

  @ifd @fba @needs-absolute-timeout
  Scenario: The session ends at the configured maximum length even while in use
    Given alice is signed in to CRM
    When she keeps working
    Then the session ends at the configured maximum session length

  @ifd @needs-reminder
  Scenario: A reminder appears before the session expires
    Given alice is signed in to CRM
    Then a reminder appears before the session expires

  @ifd @needs-expiry-dialog
  Scenario: At expiry the session-expired dialog's Close signs out fully
    Given alice is signed in to CRM
    Then at expiry the session-expired dialog's Close signs her out fully

  @ifd @fba @needs-absolute-timeout
  Scenario: After the session expired while away, opening CRM asks for credentials
    Given alice is signed in to CRM
    When she stays away until her session has expired on the server
    Then opening CRM after the expiry asks for her credentials
