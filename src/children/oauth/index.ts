export { OAuthSession, isLoginNeeded, loginNeeded, wantsOAuth } from './session.js';
export { login, type LoginResult, type LoginOptions } from './login.js';
export { logout, signInState, hasSignIn, type SignInState } from './accounts.js';
