/**
 * The password policy every Burrow client applies before registering or changing a password:
 * at least 10 characters and a zxcvbn-ts score of at least 3 against the common-password
 * dictionary, the product's own name and the email's local part. The server never sees the
 * password (OPAQUE), so this check can only live in the client.
 */
import { ZxcvbnFactory, type TranslationKeys } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary } from '@zxcvbn-ts/language-common';

/** The shortest password accepted. */
export const MIN_PASSWORD_LENGTH = 10;
/** The lowest zxcvbn score (0–4) accepted: "safely unguessable: moderate protection from offline slow-hash scenario". */
export const MIN_PASSWORD_SCORE = 3;

/** Words every Burrow user's password is checked against, so they add no strength. */
const PRODUCT_WORDS = ['cloudpets', 'cloudpet', 'burrow', 'spiral', 'teddy', 'toy'];

const translations: TranslationKeys = {
  warnings: {
    straightRow: 'Straight rows of keys on your keyboard are easy to guess.',
    keyPattern: 'Short keyboard patterns are easy to guess.',
    simpleRepeat: 'Repeated characters like "aaa" are easy to guess.',
    extendedRepeat: 'Repeated patterns like "abcabcabc" are easy to guess.',
    sequences: 'Sequences like "abc" or "123" are easy to guess.',
    recentYears: 'Recent years are easy to guess.',
    dates: 'Dates are easy to guess.',
    topTen: 'This is one of the ten most common passwords.',
    topHundred: 'This is one of the hundred most common passwords.',
    common: 'This is one of the most common passwords.',
    similarToCommon: 'This is too similar to a common password.',
    wordByItself: 'A single word is easy to guess.',
    namesByThemselves: 'Names on their own are easy to guess.',
    commonNames: 'Common names are easy to guess.',
    userInputs: 'Do not use your email address or the name of this service.',
    pwned: 'This password appeared in a data breach.',
  },
  suggestions: {
    l33t: 'Swapping letters for look-alike symbols (like "@" for "a") does not help much.',
    reverseWords: 'Spelling a common word backwards does not help much.',
    allUppercase: 'Capitalise some letters, not all of them.',
    capitalization: 'Capitalise more than the first letter.',
    dates: 'Avoid dates and years that are linked to you.',
    recentYears: 'Avoid recent years.',
    associatedYears: 'Avoid years that are linked to you.',
    sequences: 'Avoid common character sequences.',
    repeated: 'Avoid repeated words and characters.',
    longerKeyboardPattern: 'Use longer keyboard patterns and change direction several times.',
    anotherWord: 'Add more words that are less common.',
    useWords: 'Use several unrelated words; a short sentence works well.',
    noNeed: 'You can create strong passwords without symbols, numbers or capital letters.',
    pwned: 'If you use this password elsewhere, change it there too.',
  },
  timeEstimation: {
    ltSecond: 'less than a second',
    second: '{base} second',
    seconds: '{base} seconds',
    minute: '{base} minute',
    minutes: '{base} minutes',
    hour: '{base} hour',
    hours: '{base} hours',
    day: '{base} day',
    days: '{base} days',
    month: '{base} month',
    months: '{base} months',
    year: '{base} year',
    years: '{base} years',
    centuries: 'centuries',
  },
};

let factory: ZxcvbnFactory | undefined;

function zxcvbn(): ZxcvbnFactory {
  factory ??= new ZxcvbnFactory({
    dictionary: { ...dictionary },
    graphs: adjacencyGraphs,
    translations,
  });
  return factory;
}

/** The outcome of {@link checkPassword}. */
export interface PasswordCheck {
  /** True when the password may be used. */
  ok: boolean;
  /** zxcvbn's score, 0 (too guessable) to 4 (very unguessable). */
  score: 0 | 1 | 2 | 3 | 4;
  /** Plain-words reasons and suggestions, empty when `ok`. */
  feedback: string[];
}

/** The words a password for this email must not lean on: the product's names and the email's parts. */
function userInputsFor(email: string | undefined): string[] {
  const inputs = [...PRODUCT_WORDS];
  if (email !== undefined) {
    const normalised = email.trim().toLowerCase();
    const [local, domain] = normalised.split('@');
    if (local) inputs.push(local, ...local.split(/[^a-z0-9]+/).filter((part) => part.length >= 3));
    if (domain) inputs.push(domain, ...domain.split('.').filter((part) => part.length >= 3));
  }
  return inputs;
}

/** Checks a new password against the policy; `email` (when known) counts as a guessable input. */
export function checkPassword(password: string, options: { email?: string } = {}): PasswordCheck {
  if (typeof password !== 'string') throw new TypeError('password must be a string');
  const result = zxcvbn().check(password, userInputsFor(options.email));
  const score = result.score;
  const feedback: string[] = [];
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) feedback.push(`Use at least ${MIN_PASSWORD_LENGTH} characters (this one has ${length}).`);
  if (score < MIN_PASSWORD_SCORE) {
    if (result.feedback.warning) feedback.push(result.feedback.warning);
    feedback.push(...result.feedback.suggestions);
    if (feedback.length === 0 || (feedback.length === 1 && length < MIN_PASSWORD_LENGTH)) {
      feedback.push('This password is too easy to guess. Use several unrelated words; a short sentence works well.');
    }
  }
  const ok = length >= MIN_PASSWORD_LENGTH && score >= MIN_PASSWORD_SCORE;
  return { ok, score, feedback: ok ? [] : [...new Set(feedback)] };
}
