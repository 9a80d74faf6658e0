/** Signing up (with a live password-strength meter and the recovery code shown once), signing in, recovering. */
import { useEffect, useState } from 'preact/hooks';
import type { PasswordCheck } from '../../../client/password-policy.js';
import { parseInviteLink } from '../../../crypto/index.js';
import { Button, Card, Checkbox, ErrorBanner, Field, Notice, Page } from '../../ui/kit.js';
import { keyStore, recover, registrationMode, signIn, signUp, type SignedIn } from '../session.js';

export type Mode = 'sign-in' | 'sign-up' | 'recover';

type Checker = (password: string, options: { email?: string }) => PasswordCheck;
let checker: Promise<Checker> | undefined;
/** The password policy (with its dictionary) loads only on the screens that set a password. */
function loadChecker(): Promise<Checker> {
  checker ??= import('../../../client/password-policy.js').then((m) => m.checkPassword);
  return checker;
}

const strengthWords = ['Very weak', 'Weak', 'Fair', 'Strong', 'Very strong'];

function StrengthMeter(props: { password: string; email: string; onCheck: (check: PasswordCheck | undefined) => void }) {
  const [check, setCheck] = useState<PasswordCheck | undefined>(undefined);
  const [ready, setReady] = useState(false);
  useEffect(() => {
    let live = true;
    void loadChecker().then((checkPassword) => {
      if (!live) return;
      setReady(true);
      const result = props.password.length === 0 ? undefined : checkPassword(props.password, { email: props.email });
      setCheck(result);
      props.onCheck(result);
    });
    return () => {
      live = false;
    };
  }, [props.password, props.email]);
  if (!ready) return <p class="muted">Loading the password checker…</p>;
  if (check === undefined) return <p class="muted" id="strength-status">At least 10 characters. A short sentence of unrelated words works well.</p>;
  return (
    <div class="strength-box" aria-live="polite">
      <div class="strength">
        <meter min={0} max={4} low={2} high={3} optimum={4} value={check.score} aria-label="Password strength" />
        <strong data-score={check.score}>{strengthWords[check.score]}</strong>
      </div>
      {check.ok ? (
        <p class="muted">Good: this password is accepted.</p>
      ) : (
        <ul class="muted">
          {check.feedback.map((line) => (
            <li key={line}>{line}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

function RecoveryCodeStep(props: { code: string; onDone: () => void; fresh: boolean }) {
  const [saved, setSaved] = useState(false);
  const [copied, setCopied] = useState(false);
  return (
    <Page title="Your recovery code">
      <Notice tone="warning">
        {props.fresh ? 'Your account is ready. ' : 'Your password is changed and you have a new recovery code. '}
        This code is the only way back into your account if you forget your password. It is shown once, now. Burrow cannot show it again or reset it for you.
      </Notice>
      <Card>
        <p>Write it down or keep it in a password manager:</p>
        <p class="code-box" data-testid="recovery-code">
          {props.code}
        </p>
        <div class="button-row">
          <Button
            variant="secondary"
            onClick={() => {
              void navigator.clipboard?.writeText(props.code).then(() => setCopied(true));
            }}
          >
            {copied ? 'Copied' : 'Copy the code'}
          </Button>
        </div>
        <Checkbox label="I have saved my recovery code somewhere safe" checked={saved} onChecked={setSaved} />
        <Button class="wide" disabled={!saved} disabledReason="Tick the box once the code is saved." onClick={props.onDone}>
          Continue
        </Button>
      </Card>
    </Page>
  );
}

/** The invite id of an invite link (`…/join#<inviteId>.<secret>`); undefined when there is none. */
function inviteIdOf(link: string | undefined): string | undefined {
  if (link === undefined) return undefined;
  try {
    return parseInviteLink(link).inviteId;
  } catch {
    return undefined;
  }
}

/** The screen a path opens on: `/sign-in` (where signing out lands), `/recover`, else creating an account. */
export function authModeOf(path: string): Mode {
  return path === '/sign-in' ? 'sign-in' : path === '/recover' ? 'recover' : 'sign-up';
}

export function AuthScreen(props: { onSignedIn: (who: SignedIn) => void; inviteWaiting: boolean; inviteLink?: string; mode?: Mode }) {
  const [mode, setMode] = useState<Mode>(props.mode ?? 'sign-up');
  const [registration, setRegistration] = useState<'open' | 'invite' | 'closed'>('open');
  const [registrationCode, setRegistrationCode] = useState('');
  const inviteId = inviteIdOf(props.inviteLink);
  useEffect(() => {
    registrationMode().then(setRegistration, () => undefined);
  }, []);
  const [email, setEmail] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [check, setCheck] = useState<PasswordCheck | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [recovery, setRecovery] = useState<{ who: SignedIn; recoveryCode: string; fresh: boolean } | undefined>(undefined);

  if (recovery !== undefined) {
    return <RecoveryCodeStep code={recovery.recoveryCode} fresh={recovery.fresh} onDone={() => props.onSignedIn(recovery.who)} />;
  }

  const submit = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    setBusy(true);
    try {
      if (mode === 'sign-in') props.onSignedIn(await signIn(email, password));
      else if (mode === 'sign-up') {
        const pass = inviteId ?? (registrationCode.trim() === '' ? undefined : registrationCode.trim());
        const result = await signUp(email, password, pass);
        // Offered (and editable) wherever this person creates or joins a family on this device.
        if (displayName.trim() !== '') await keyStore.saveDisplayName(displayName.trim());
        setPassword('');
        setRecovery({ ...result, fresh: true });
      } else {
        const result = await recover(email, code, password);
        setPassword('');
        setCode('');
        setRecovery({ ...result, fresh: false });
      }
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  const title = mode === 'sign-in' ? 'Sign in' : mode === 'sign-up' ? 'Create your account' : 'Recover your account';
  const setsPassword = mode !== 'sign-in';
  return (
    <Page title={title}>
      {props.inviteWaiting && <Notice>You opened an invite to a family. Create an account or sign in first; the invite waits on this page.</Notice>}
      <p class="muted">Burrow sends voice messages between your family and your child's toy. Everything is encrypted on this device: the server never hears a message or learns your password.</p>
      <div class="tabs" role="tablist" aria-label="Account">
        {(['sign-up', 'sign-in', 'recover'] as const).map((m) => (
          <a
            key={m}
            href="#"
            role="tab"
            aria-selected={mode === m ? 'true' : 'false'}
            aria-current={mode === m ? 'page' : undefined}
            onClick={(event) => {
              event.preventDefault();
              // A password typed for one purpose is never carried into another form (a sign-in
              // password must not become a recovery's new password by accident).
              if (m !== mode) {
                setPassword('');
                setCode('');
                setCheck(undefined);
              }
              setMode(m);
              setError(undefined);
            }}
          >
            {m === 'sign-up' ? 'Create account' : m === 'sign-in' ? 'Sign in' : 'Forgot password'}
          </a>
        ))}
      </div>
      <ErrorBanner error={error} onDismiss={() => setError(undefined)} />
      <form onSubmit={(event) => void submit(event)} noValidate>
        {mode === 'sign-up' && (
          <Field label="Your name" name="display-name" autoComplete="name" value={displayName} onValue={setDisplayName} maxLength={64} hint="How your family will see you (“Grandma Rose”). Encrypted: the server never reads it. You can change it later." />
        )}
        <Field label="Email" type="email" name="email" autoComplete="username" value={email} onValue={setEmail} required />
        {mode === 'sign-up' && registration === 'invite' && inviteId === undefined && (
          <Field label="Registration code" name="registration-code" autoComplete="off" value={registrationCode} onValue={setRegistrationCode} hint="This server creates accounts for invited people only: open your family invite link, or enter the code its operator gave you." required />
        )}
        {mode === 'sign-up' && registration === 'closed' && <Notice tone="warning">This server is not creating new accounts. Sign in if you have one.</Notice>}
        {mode === 'recover' && (
          <Field label="Recovery code" name="recovery-code" autoComplete="off" value={code} onValue={setCode} hint="The code you saved when you created the account (8 groups of 4 characters)." required />
        )}
        <Field
          label={mode === 'recover' ? 'New password' : 'Password'}
          type="password"
          name="password"
          autoComplete={setsPassword ? 'new-password' : 'current-password'}
          value={password}
          onValue={setPassword}
          required
        />
        {setsPassword && <StrengthMeter password={password} email={email} onCheck={setCheck} />}
        <Button
          type="submit"
          class="wide"
          busy={busy}
          disabled={(setsPassword && check?.ok !== true) || (mode === 'sign-up' && registration === 'closed')}
          disabledReason={mode === 'sign-up' && registration === 'closed' ? 'This server is not creating new accounts.' : password.length === 0 ? 'Type a password first.' : 'Choose a stronger password first (see the hints above).'}
        >
          {mode === 'sign-in' ? 'Sign in' : mode === 'sign-up' ? 'Create account' : 'Set the new password'}
        </Button>
      </form>
    </Page>
  );
}
