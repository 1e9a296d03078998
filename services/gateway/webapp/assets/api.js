// The FinFlow API as the page uses it: JSON over fetch to the gateway that
// served the page, with the bearer token held in a private field of one
// object in memory. Nothing is written to the browser's web storage,
// its databases or cookies.

// ApiError is a failed call: the API's error envelope ({code, message,
// details}) and the HTTP status, or code NETWORK when no answer came.
export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }

  // definite reports whether the server's answer says what happened (a
  // 4xx other than 408 and 429); otherwise the request may or may not have
  // taken effect, and a retry must reuse its Idempotency-Key.
  get definite() {
    return this.status >= 400 && this.status < 500 && this.status !== 408 && this.status !== 429;
  }
}

// newKey returns a random Idempotency-Key (crypto.getRandomValues works
// on plain http too, unlike crypto.randomUUID).
export function newKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return 'web-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export class Client {
  #token = '';

  // onUnauthenticated is called when the API answers 401 to a signed-in
  // call: the token expired or was revoked.
  constructor(onUnauthenticated) {
    this.onUnauthenticated = onUnauthenticated;
  }

  signIn(token) {
    this.#token = token;
  }

  signOut() {
    this.#token = '';
  }

  get signedIn() {
    return this.#token !== '';
  }

  // call sends one request. body, when given, is sent as JSON; key as the
  // Idempotency-Key; token overrides the signed-in token (the dev
  // sign-in's one-off calls). It resolves to the parsed answer and rejects
  // with an ApiError.
  async call(method, path, { body, key, token, anonymous } = {}) {
    const headers = { Accept: 'application/json' };
    const bearer = anonymous ? '' : token || this.#token;
    if (bearer) {
      headers.Authorization = 'Bearer ' + bearer;
    }
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
    }
    if (key) {
      headers['Idempotency-Key'] = key;
    }
    let res;
    try {
      res = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'omit',
        cache: 'no-store',
        redirect: 'error',
      });
    } catch (e) {
      throw new ApiError(0, 'NETWORK', 'FinFlow could not be reached.');
    }
    let data = null;
    try {
      data = parseAnswer(await res.text());
    } catch (e) {
      data = null;
    }
    if (res.ok && data !== null) {
      return { status: res.status, data };
    }
    const err = data && data.error ? data.error : {};
    const e = new ApiError(res.status, err.code || (res.ok ? 'BAD_ANSWER' : 'HTTP_' + res.status), err.message || '', err.details);
    if (res.status === 429) {
      e.details.retry_after_seconds = e.details.retry_after_seconds || Number(res.headers.get('Retry-After')) || 0;
    }
    if (res.status === 401 && bearer && bearer === this.#token && this.onUnauthenticated) {
      this.onUnauthenticated();
    }
    throw e;
  }
}

// exactIntegers says whether JSON.parse gives a reviver each number's
// source text (its third argument), as Chromium 114+ and Firefox 135+ do.
const exactIntegers = (() => {
  try {
    return JSON.parse('[1]', (k, v, context) => (k === '0' ? context && context.source === '1' : v))[0] === true;
  } catch (e) {
    return false;
  }
})();

// parseAnswer parses an API answer. JSON numbers are doubles in
// JavaScript, and an integer beyond 2^53 (a balance of more than ₹90 lakh
// crore) would be rounded: such an integer becomes a BigInt made from its
// own digits, which rupees() writes exactly. Where the browser does not
// give the digits, it becomes null, which the page shows as unknown
// ("₹?") rather than as a rounded, wrong amount.
export function parseAnswer(text) {
  return JSON.parse(text, (key, value, context) => {
    if (typeof value !== 'number' || Number.isSafeInteger(value) || !Number.isInteger(value)) {
      return value;
    }
    if (!exactIntegers || !context || typeof context.source !== 'string') {
      return null;
    }
    return /^-?[0-9]+$/.test(context.source) ? BigInt(context.source) : value;
  });
}

// claims reads a JWT's payload (sub, role, exp) without checking it: only
// the API can check a token, and it does on every call.
export function claims(token) {
  const parts = token.split('.');
  if (parts.length !== 3) {
    return null;
  }
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const c = JSON.parse(json);
    return c && typeof c === 'object' ? c : null;
  } catch (e) {
    return null;
  }
}
