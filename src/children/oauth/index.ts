export { OAuthSession } from './session.js';
export { isLoginNeeded, loginNeeded, wantsOAuth } from './needed.js';
export { login, type LoginResult, type LoginOptions } from './login.js';
export { logout, signInState, hasSignIn, type SignInState } from './accounts.js';
