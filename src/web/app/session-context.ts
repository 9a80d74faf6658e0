/** The signed-in session as the screens see it: provided by the app, read with `useSession`. */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { SignedIn } from './session.js';

/** Who is signed in, and how to sign them out. */
export interface AppState {
  who: SignedIn;
  signOut: () => Promise<void>;
}

/** The context the app provides around the signed-in screens. */
export const SessionContext = createContext<AppState | undefined>(undefined);

/** The signed-in session; only inside the screens the app shows once someone is signed in. */
export function useSession(): AppState {
  const state = useContext(SessionContext);
  if (state === undefined) throw new Error('useSession outside a signed-in screen');
  return state;
}
