/**
 * The small UI kit shared by the family app and the virtual toy: page frame, buttons, form
 * fields with labels and hints, an error banner that speaks plain words, loading and empty states.
 * No inline styles anywhere (the CSP forbids them): everything is a class in kit.css.
 */
import type { ButtonHTMLAttributes, ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { plainWords } from './errors.js';

/** A screen: its heading (focused when the screen changes) and, as the document title, `documentTitle` or the heading. */
export function Page(props: { title: string; documentTitle?: string; children: ComponentChildren; actions?: ComponentChildren; back?: { href: string; label: string } }) {
  const heading = useRef<HTMLHeadingElement>(null);
  // Moving focus to the page heading tells screen-reader users that the screen changed.
  useEffect(() => {
    heading.current?.focus();
  }, [props.title]);
  // Each screen has its own title (tabs, history, and what a screen reader reads first).
  const documentTitle = props.documentTitle ?? props.title;
  useEffect(() => {
    document.title = documentTitle === 'Burrow' ? 'Burrow' : `${documentTitle} · Burrow`;
  }, [documentTitle]);
  return (
    <main class="page">
      <header class="page-header">
        {props.back !== undefined && (
          <a class="back" href={props.back.href}>
            ← <bdi>{props.back.label}</bdi>
          </a>
        )}
        <h1 tabIndex={-1} ref={heading}>
          <bdi>{props.title}</bdi>
        </h1>
        {props.actions !== undefined && <div class="page-actions">{props.actions}</div>}
      </header>
      {props.children}
    </main>
  );
}

type ButtonProps = Omit<ButtonHTMLAttributes<HTMLButtonElement>, 'type'> & {
  variant?: 'primary' | 'secondary' | 'danger' | 'link';
  busy?: boolean;
  type?: 'button' | 'submit' | 'reset';
  disabled?: boolean;
  /** Shown under a disabled button (and tied to it with aria-describedby): what to do to enable it. */
  disabledReason?: string;
};

export function Button({ variant = 'primary', busy = false, class: extra, children, disabled, disabledReason, type = 'button', ...rest }: ButtonProps) {
  const reasonId = useFieldId('why');
  const why = disabled === true && !busy && disabledReason !== undefined;
  const button = (
    <button {...rest} type={type} class={`button button-${variant}${extra ? ` ${String(extra)}` : ''}`} disabled={disabled === true || busy} aria-busy={busy ? 'true' : undefined} aria-describedby={why ? reasonId : undefined}>
      {busy && <span class="spinner" aria-hidden="true" />}
      {children}
    </button>
  );
  if (!why) return button;
  return (
    <>
      {button}
      <p class="why-disabled" id={reasonId}>
        {disabledReason}
      </p>
    </>
  );
}

let fieldCounter = 0;
/** A stable id for a label/input pair. */
export function useFieldId(prefix: string): string {
  const id = useRef<string | undefined>(undefined);
  id.current ??= `${prefix}-${++fieldCounter}`;
  return id.current;
}

interface InputProps {
  label: string;
  value: string;
  onValue: (value: string) => void;
  hint?: ComponentChildren;
  error?: string | undefined;
  type?: 'text' | 'email' | 'password' | 'search' | 'tel' | 'url' | 'time';
  autoComplete?: string;
  required?: boolean;
  name?: string;
  placeholder?: string;
  maxLength?: number;
  inputMode?: 'text' | 'numeric' | 'email' | 'tel' | 'url' | 'search';
  autoFocus?: boolean;
  readOnly?: boolean;
  class?: string;
}

/** A labelled text input; hint and error are tied to it with aria-describedby. */
export function Field({ label, value, onValue, hint, error, type = 'text', class: extra, ...rest }: InputProps) {
  const id = useFieldId('field');
  const describedBy = [hint !== undefined ? `${id}-hint` : '', error !== undefined ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div class={`field${extra ? ` ${extra}` : ''}`}>
      <label for={id}>{label}</label>
      <input
        id={id}
        // Preact 11 types <input> as a union discriminated by `type`; the attributes used here suit every one of ours.
        type={type as 'text'}
        value={value}
        name={rest.name}
        autoComplete={rest.autoComplete}
        required={rest.required}
        placeholder={rest.placeholder}
        maxLength={rest.maxLength}
        inputMode={rest.inputMode}
        autoFocus={rest.autoFocus}
        readOnly={rest.readOnly}
        onInput={(event) => onValue(event.currentTarget.value)}
        aria-invalid={error !== undefined ? 'true' : undefined}
        aria-describedby={describedBy}
      />
      {hint !== undefined && (
        <div class="hint" id={`${id}-hint`}>
          {hint}
        </div>
      )}
      {error !== undefined && (
        <div class="field-error" id={`${id}-error`}>
          {error}
        </div>
      )}
    </div>
  );
}

/** A labelled select; a hint is tied to it with aria-describedby. */
export function Select(props: { label: string; value: string; onValue: (value: string) => void; options: Array<{ value: string; label: string }>; name?: string; hint?: ComponentChildren }) {
  const id = useFieldId('select');
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <select id={id} name={props.name} value={props.value} aria-describedby={props.hint !== undefined ? `${id}-hint` : undefined} onChange={(event) => props.onValue((event.currentTarget as HTMLSelectElement).value)}>
        {props.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      {props.hint !== undefined && (
        <div class="hint" id={`${id}-hint`}>
          {props.hint}
        </div>
      )}
    </div>
  );
}

/**
 * A labelled slider for a whole number (`min`–`max`) that shows its value beside the label and
 * reads it to screen readers as `valueText` says (for example "60 of 100").
 */
export function Range(props: { label: string; value: number; onValue: (value: number) => void; min: number; max: number; step?: number; name?: string; valueText?: (value: number) => string; hint?: ComponentChildren }) {
  const id = useFieldId('range');
  const text = props.valueText?.(props.value) ?? String(props.value);
  return (
    <div class="field field-range">
      <label for={id}>
        {props.label} <output for={id}>{text}</output>
      </label>
      <input
        id={id}
        type="range"
        name={props.name}
        min={props.min}
        max={props.max}
        step={props.step ?? 1}
        value={props.value}
        aria-valuetext={text}
        aria-describedby={props.hint !== undefined ? `${id}-hint` : undefined}
        onInput={(event) => props.onValue(Number(event.currentTarget.value))}
      />
      {props.hint !== undefined && (
        <div class="hint" id={`${id}-hint`}>
          {props.hint}
        </div>
      )}
    </div>
  );
}

/** A group of radio buttons under a legend; each option's label wraps and reads in full. */
export function RadioGroup(props: { legend: string; name: string; value: string; onValue: (value: string) => void; options: Array<{ value: string; label: ComponentChildren }> }) {
  const id = useFieldId('radio');
  return (
    <fieldset class="field radio-group">
      <legend>{props.legend}</legend>
      {props.options.map((o, i) => (
        <div class="check" key={o.value}>
          <input id={`${id}-${i}`} type="radio" name={props.name} value={o.value} checked={props.value === o.value} onChange={() => props.onValue(o.value)} />
          <label for={`${id}-${i}`}>{o.label}</label>
        </div>
      ))}
    </fieldset>
  );
}

/** A labelled checkbox. */
export function Checkbox(props: { label: ComponentChildren; checked: boolean; onChecked: (checked: boolean) => void; name?: string }) {
  const id = useFieldId('check');
  return (
    <div class="check">
      <input id={id} type="checkbox" name={props.name} checked={props.checked} onChange={(event) => props.onChecked((event.currentTarget as HTMLInputElement).checked)} />
      <label for={id}>{props.label}</label>
    </div>
  );
}

/** An error in plain words (any thrown value: API problems, client errors, network failures). */
export function ErrorBanner(props: { error: unknown; onDismiss?: () => void }) {
  if (props.error === undefined || props.error === null) return null;
  return (
    <div class="banner banner-error" role="alert">
      <span>{plainWords(props.error)}</span>
      {props.onDismiss !== undefined && (
        <button type="button" class="banner-close" onClick={props.onDismiss} aria-label="Dismiss">
          ×
        </button>
      )}
    </div>
  );
}

/** A calm notice (success, information). */
/**
 * A message in a banner. With `focus`, it takes the focus when it appears: the result of what the
 * person just did (sent, paired) is where a keyboard or screen-reader user lands next.
 */
export function Notice(props: { children: ComponentChildren; tone?: 'info' | 'success' | 'warning'; focus?: boolean }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (props.focus === true) box.current?.focus();
  }, [props.focus]);
  return (
    <div ref={box} class={`banner banner-${props.tone ?? 'info'}`} role="status" tabIndex={props.focus === true ? -1 : undefined}>
      {props.children}
    </div>
  );
}

export function Loading(props: { label?: string }) {
  return (
    <div class="loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" />
      {props.label ?? 'Loading…'}
    </div>
  );
}

export function Empty(props: { children: ComponentChildren }) {
  return <div class="empty">{props.children}</div>;
}

export function Card(props: { children: ComponentChildren; title?: string; class?: string }) {
  return (
    <section class={`card${props.class ? ` ${props.class}` : ''}`}>
      {props.title !== undefined && <h2>{props.title}</h2>}
      {props.children}
    </section>
  );
}
