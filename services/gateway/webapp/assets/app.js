// FinFlow's customer web app: sign in, see the wallet, its ledger, bills,
// payments, top-ups and subscriptions; pay a bill from the wallet or
// through Razorpay's Standard Checkout; add money to the wallet.
//
// A payment shown as done here is one FinFlow says is done: whatever the
// checkout's handler reports, the page says "confirming" until GET
// /Payment/{id} (or GET /wallet/topup/{id}) answers SUCCESS or FAILED,
// which only a signature-verified webhook (or reconciliation) makes so.

import { Client, ApiError, newKey, claims } from './api.js';
import { rupees, signed, toPaise, paiseDigits } from './money.js';

const $ = (id) => document.getElementById(id);
const devMode = document.body.dataset.devMode === 'true';
const checkoutScript = document.body.dataset.checkoutScript || '';
const PAGE = 20;
const THEME = '#1d3fb8';
// RAZORPAY_MIN is the least Razorpay takes (INR 1.00): it refuses less,
// and each refused try would leave a FAILED payment.
const RAZORPAY_MIN = 100;
// ORDER_MINUTES is how long FinFlow's Razorpay order lives.
const ORDER_MINUTES = 15;
// LATE_WAIT_MS is how long the page waits, after the checkout said the
// customer paid, to hear what FinFlow did with money Razorpay took for a
// payment or top-up FinFlow had already ended (its order expired, or an
// earlier attempt on the order failed): that capture becomes a payment or
// top-up of its own, which the ended one's settled_by names.
const LATE_WAIT_MS = 90000;

const api = new Client(() => {
  if (session) {
    signOut('Your sign-in has ended (the token expired or is no longer accepted). Please sign in again.');
  }
});

// session is the signed-in customer; generation changes at every sign-in
// and sign-out, so work started for one session stops in the next.
let session = null;
let generation = 0;

// ---------------------------------------------------------------- words

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'UTC' });

// when is a <time> in the reader's locale (dates without a time are
// calendar dates, shown as such).
function when(iso, calendarDate) {
  const t = document.createElement('time');
  if (!iso) {
    t.textContent = '—';
    return t;
  }
  t.dateTime = iso;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) {
    t.textContent = iso;
  } else if (calendarDate) {
    t.textContent = dateOnly.format(d);
  } else {
    // The date and the time each stay on one line; a narrow column breaks
    // the line between them (at the locale's separator, outside both),
    // never inside "Dec 1, 2026".
    const parts = dateTime.formatToParts(d);
    let at = parts.findIndex((p) => p.type === 'hour' || p.type === 'dayPeriod');
    if (at < 0) {
      at = parts.length;
    }
    let sep = at;
    while (sep > 0 && parts[sep - 1].type === 'literal') {
      sep--;
    }
    const text = (ps) => ps.map((p) => p.value).join('');
    t.append(el('span', { className: 'nowrap' }, text(parts.slice(0, sep))), text(parts.slice(sep, at)),
      el('span', { className: 'nowrap' }, text(parts.slice(at))));
  }
  return t;
}

const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

// explain says what an API error means, in plain words; billId names the
// bill the request was about, if any.
function explain(e, billId) {
  if (!(e instanceof ApiError)) {
    return 'Something went wrong in this page: ' + (e && e.message ? e.message : String(e));
  }
  switch (e.code) {
    case 'NETWORK':
      return 'FinFlow could not be reached. Check your connection and try again.';
    case 'UNAUTHENTICATED':
      return 'Your sign-in is not valid any more. Please sign in again.';
    case 'FORBIDDEN':
      return 'You are not allowed to see or do that.';
    case 'RATE_LIMITED': {
      // Refused before it reached any service: nothing was done.
      const secs = Number(e.details.retry_after_seconds) || 0;
      return 'Too many requests in a short time: FinFlow did nothing with this one. Try again ' + (secs > 0
        ? 'in ' + secs + (secs === 1 ? ' second' : ' seconds') + ' (at ' + timeOnly.format(new Date(Date.now() + secs * 1000)) + ').'
        : 'in a few seconds.');
    }
    case 'UNAVAILABLE':
      if (e.details && e.details.service === 'razorpay') {
        // FinFlow answered; Razorpay (or FinFlow's way to it) did not.
        return 'Razorpay is not answering right now. Try again in a moment.';
      }
      // falls through: a FinFlow service did not answer
    case 'REQUEST_TIMEOUT':
      return 'FinFlow is not answering right now. Try again in a moment.';
    case 'BILL_ALREADY_PAID':
      return alreadyPaid(e.details, billId);
    case 'INSUFFICIENT_FUNDS':
      return 'Your wallet does not have enough money for this.';
    case 'WALLET_NOT_FOUND':
      return 'You have no wallet yet.';
    case 'WALLET_EXISTS':
      return 'You already have a wallet.';
    case 'EMAIL_TAKEN':
      return 'That email address already belongs to another customer.';
    case 'USER_NOT_FOUND':
      return 'That customer does not exist.';
    case 'BILL_NOT_FOUND':
      return 'That bill does not exist.';
    case 'PAYMENT_NOT_FOUND':
      return 'That payment does not exist.';
    case 'TOPUP_NOT_FOUND':
      return 'That top-up does not exist.';
    case 'SUBSCRIPTION_NOT_FOUND':
      return 'That subscription does not exist.';
    case 'SUBSCRIPTION_ALREADY_CANCELLED':
      return 'This subscription was cancelled already (in another tab or by FinFlow’s staff): no bill is made for it any more.';
    case 'GATEWAY_REFUSED': {
      // Razorpay's own words are in the details; the message repeats them.
      const said = e.details && e.details.gateway_description;
      return 'Razorpay refused this' + (said ? ': ' + plainText(said) : '') + '. Nothing was charged.';
    }
    case 'AMOUNT_BELOW_MINIMUM':
      return 'Razorpay takes payments from ' + rupees(RAZORPAY_MIN) + ': pay this one from your wallet. Nothing was charged.';
    case 'BALANCE_LIMIT':
      return 'Your wallet cannot hold that much: this would take it over its limit. Nothing was added.';
    case 'IDEMPOTENCY_KEY_IN_USE':
      return 'This request is still being processed. Wait a moment and look again.';
    case 'IDEMPOTENCY_KEY_REUSED':
      return 'FinFlow had this request before with other details, and did nothing with it now. Reload the page and try again.';
    case 'VALIDATION_FAILED':
      return 'FinFlow could not accept that: ' + plainText(e.message);
    case 'BODY_TOO_LARGE':
      return 'That is too much text to send.';
    case 'HEADERS_TOO_LARGE':
      return 'Your browser sent FinFlow more than it takes with each request. Sign out, sign in again and retry.';
    case 'ROUTE_NOT_FOUND':
    case 'METHOD_NOT_ALLOWED':
    case 'UNSUPPORTED_MEDIA_TYPE':
      // Only a page out of step with its FinFlow gets these.
      return 'FinFlow did not understand what this page asked for, and did nothing. Reload the page and try again.';
    case 'INTERNAL':
      return 'FinFlow had a fault of its own answering this. Look at your account below before trying again.';
    default:
      return e.message ? plainText(e.message) : 'Something went wrong (' + e.code + ').';
  }
}

// alreadyPaid says why FinFlow refused to pay a bill with 409
// BILL_ALREADY_PAID: another payment holds the bill (other_payment_id),
// either still under way (other_payment_status PENDING: a Razorpay
// checkout opened and not finished holds it until its order expires) or
// done (SUCCESS). Without the status, the page's own lists may know.
function alreadyPaid(details, billId) {
  let status = details.other_payment_status;
  const other = session && session.payments.get(details.other_payment_id);
  if (!status && session) {
    const bill = session.bills.get(billId || (other && other.bill_id));
    if (other) {
      status = other.status;
    } else if (bill && bill.status !== 'UNPAID') {
      status = 'SUCCESS';
    } else if (billId && pendingOf(billId, details.payment_id)) {
      status = 'PENDING';
    }
  }
  if (status === 'PENDING' && other && other.method === 'WALLET') {
    return 'Another payment of this bill from your wallet is still under way: FinFlow is finishing it. Nothing was taken for this request.';
  }
  switch (status) {
    case 'PENDING':
      return 'Another payment of this bill is still under way (for example a Razorpay checkout opened earlier: it holds the bill until ' +
        'it is paid, or until its order expires about ' + ORDER_MINUTES + ' minutes after it was opened). Nothing was taken from your wallet ' +
        'and nothing was charged. You can pay this bill once that payment has ended.';
    case 'SUCCESS':
      return 'This bill is already paid.';
    default:
      return 'This bill is already paid, or another payment of it is still under way: see Payments below. Nothing was taken for this request.';
  }
}

// reasonWords says why FinFlow failed a payment or top-up.
function reasonWords(reason) {
  switch (reason) {
    case 'INSUFFICIENT_FUNDS':
      return 'your wallet did not have enough money';
    case 'PAYMENT_FAILED':
      return 'the bank or Razorpay declined it';
    case 'EXPIRED':
      return 'the payment was not completed in time';
    case 'BILL_ALREADY_PAID':
      return 'another payment of this bill was already made or under way';
    case 'GATEWAY_REFUSED':
      return 'Razorpay refused the payment';
    case 'GATEWAY_UNAVAILABLE':
      return 'Razorpay could not be reached';
    case 'WALLET_NOT_FOUND':
      return 'you have no wallet';
    case 'BILL_NOT_FOUND':
      return 'the bill no longer exists';
    case 'FORBIDDEN':
      return 'the bill is not yours';
    case 'DUPLICATE_REQUEST':
      return 'another payment of this bill was already under way';
    case 'CAPTURE_MISMATCH':
    case 'CAPTURE_NOT_CONFIRMED':
      return 'Razorpay could not confirm the payment';
    case 'REFUNDED_AT_GATEWAY':
      return 'the money was refunded to you';
    case 'TOPUP_ALREADY_CREDITED':
      return 'that top-up had been credited already';
    default:
      return reason ? plainText(reason.toLowerCase().replace(/_/g, ' ')) : 'no reason was given';
  }
}

const statusWords = { UNPAID: 'Unpaid', PAID: 'Paid', REFUNDED: 'Refunded', ACTIVE: 'Active', CANCELLED: 'Cancelled' };
// PENDING is "Pending", not "Confirming": a checkout closed without paying
// leaves its payment PENDING until the order expires (15 minutes).
const paymentWords = { SUCCESS: 'Paid', PENDING: 'Pending', FAILED: 'Failed' };
const topUpWords = { SUCCESS: 'Added', PENDING: 'Pending', FAILED: 'Failed' };
const methodWords = { WALLET: 'Wallet', RAZORPAY: 'Razorpay' };
const intervalWords = { DAILY: 'every day', WEEKLY: 'every week', MONTHLY: 'every month' };

// ------------------------------------------------------------ the page

// el makes an element: el('td', {className: 'num'}, 'text', child).
function el(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'data') {
      Object.assign(e.dataset, v);
    } else if (k.startsWith('aria-') || k === 'role') {
      e.setAttribute(k, v);
    } else {
      e[k] = v;
    }
  }
  for (const c of children) {
    if (c !== null && c !== undefined && c !== false) {
      e.append(c);
    }
  }
  return e;
}

// invisible matches text that shows nothing: blanks, control and format
// characters (bidi controls, zero-width spaces), fillers, lone marks.
const invisible = /^[\s\p{Cc}\p{Cf}\p{Z}\p{M}\u115F\u1160\u2800\u3164\uFFA0]*$/u;
// bidiControls are the embeddings, overrides and isolates that reorder
// the text around them until they are closed.
const bidiControls = /[\u202A-\u202E\u2066-\u2069]/g;
const NO_DESCRIPTION = '(no description)';
const NO_NAME = '(no name)';

// userText is text a person wrote (a description, a name, an email, a
// reference) as a <bdi>, so that its direction stays its own: bidi
// controls in it cannot reorder the amounts and words around it. Its
// class also lets a long word wrap. Text that shows nothing is shown as
// the placeholder.
function userText(text, placeholder) {
  const s = text === null || text === undefined ? '' : String(text);
  if (invisible.test(s)) {
    return el('bdi', { className: 'user-text placeholder' }, placeholder || '(none)');
  }
  return el('bdi', { className: 'user-text' }, s);
}

// plainText is userText for where no element can isolate it (a sentence
// built as a string, an aria-label, the checkout's description): without
// its bidi controls, inside FIRST STRONG ISOLATE … POP DIRECTIONAL ISOLATE.
function plainText(text, placeholder) {
  const s = text === null || text === undefined ? '' : String(text);
  return invisible.test(s) ? placeholder || '(none)' : '\u2068' + s.replace(bidiControls, '') + '\u2069';
}

// showAlert shows an alert made of text and elements (userText).
function showAlert(...parts) {
  const a = $('alert');
  a.replaceChildren(...parts);
  a.hidden = false;
}

function clearAlert() {
  $('alert').hidden = true;
  $('alert').textContent = '';
}

// ------------------------------------------------------------- sign-in

// showSignIn shows the sign-in; after a sign-out (moveFocus) the focus
// goes to its heading, so a keyboard or screen reader user is not lost.
function showSignIn(message, moveFocus) {
  $('account').hidden = true;
  $('who').hidden = true;
  $('sign-in').hidden = false;
  if (message) {
    showAlert(message);
  }
  $('dev-sign-in').hidden = !devMode;
  $('dev-new-user').hidden = !devMode;
  if (devMode) {
    loadUsers(null);
  }
  if (moveFocus) {
    $('sign-in-title').focus();
  }
}

// devToken asks the gateway (dev mode only) for a token.
async function devToken(sub, role) {
  const { data } = await api.call('POST', '/auth/dev-token', { body: { sub, role }, anonymous: true });
  return data.token;
}

let usersCursor = null;

// loadUsers lists customers for the dev sign-in, with a one-off admin
// token that is dropped as soon as the page is read.
async function loadUsers(cursor) {
  const list = $('users');
  $('users-status').textContent = 'Loading customers…';
  $('dev-sign-in').setAttribute('aria-busy', 'true');
  try {
    const admin = await devToken('webapp-dev-sign-in', 'admin');
    const q = new URLSearchParams({ limit: '50' });
    if (cursor) {
      q.set('cursor', cursor);
    }
    const { data } = await api.call('GET', '/users/all?' + q, { token: admin });
    if (!cursor) {
      list.replaceChildren();
    }
    for (const u of data.items) {
      list.append(el('li', {}, el('button', { type: 'button', className: 'user', data: { user: u.id }, onclick: () => devSignIn(u) },
        'Sign in as ', el('strong', {}, userText(u.name, NO_NAME)), ' ', el('span', { className: 'hint' }, userText(u.email, '(no email)')))));
    }
    usersCursor = data.next_cursor;
    $('more-users').hidden = !usersCursor;
    $('users-status').textContent = list.children.length ? '' : 'No customers yet: create one below.';
  } catch (e) {
    $('users-status').textContent = 'Could not list customers: ' + explain(e);
  } finally {
    $('dev-sign-in').removeAttribute('aria-busy');
  }
}

async function devSignIn(user) {
  clearAlert();
  try {
    await signIn(await devToken(user.id, 'user'));
  } catch (e) {
    showAlert('Could not sign in as ', userText(user.name, NO_NAME), ': ' + explain(e));
  }
}

async function createCustomer(ev) {
  ev.preventDefault();
  clearAlert();
  const name = $('new-name').value.trim();
  const email = $('new-email').value.trim();
  const phone = $('new-phone').value.trim();
  if (!name || !email) {
    showAlert('Enter a name and an email address.');
    (name ? $('new-email') : $('new-name')).focus();
    return;
  }
  const body = { name, email };
  if (phone) {
    body.phone = phone;
  }
  if (!startForm('new-user')) {
    return;
  }
  try {
    const { data: user } = await api.call('POST', '/users/create', { body, anonymous: true, key: formKey('new-user', body) });
    const token = await devToken(user.id, 'user');
    // The customer exists from here: a wallet that cannot be opened now is
    // opened from the account ("Open a wallet").
    let noWallet = null;
    try {
      await api.call('POST', '/wallet/create/' + encodeURIComponent(user.id), { token, key: newKey() });
    } catch (e) {
      if (e.code !== 'WALLET_EXISTS') {
        noWallet = e;
      }
    }
    formKeys.delete('new-user');
    $('new-user').reset();
    await signIn(token);
    if (noWallet) {
      showAlert('You are signed in, but your wallet could not be opened yet: ' + explain(noWallet) + ' Use “Open a wallet” to try again.');
    }
  } catch (e) {
    if (e.definite) {
      formKeys.delete('new-user');
    }
    showAlert('Could not create the customer: ' + explain(e) + (e.definite ? '' : ' Press “Create and sign in” again: it carries on with the same request.'));
    $('new-name').focus();
  } finally {
    endForm('new-user');
  }
}

// formKeys holds, per dev-mode form, the Idempotency-Key of its request
// whose outcome is not known yet, with the body it was for: sending the
// same body again sends the same key, so a customer or a bill is made
// once however often the form is sent.
const formKeys = new Map();

function formKey(form, body) {
  const sent = JSON.stringify(body);
  const k = formKeys.get(form);
  if (k && k.sent === sent) {
    return k.key;
  }
  const key = newKey();
  formKeys.set(form, { sent, key });
  return key;
}

// startForm marks a form's submit button busy; false when the form is
// being sent already (a second press does nothing).
function startForm(form) {
  const button = document.querySelector('#' + form + ' button[type="submit"]');
  if (inFlight.has('form ' + form)) {
    return false;
  }
  inFlight.add('form ' + form);
  button.setAttribute('aria-disabled', 'true');
  return true;
}

function endForm(form) {
  inFlight.delete('form ' + form);
  document.querySelector('#' + form + ' button[type="submit"]').removeAttribute('aria-disabled');
}

async function tokenSignIn(ev) {
  ev.preventDefault();
  clearAlert();
  const token = $('token').value.trim().replace(/^Bearer\s+/i, '');
  $('token').value = '';
  try {
    await signIn(token);
  } catch (e) {
    if (!(e instanceof ApiError)) {
      showAlert('Could not sign in: ' + e.message + '.');
    } else if (e.code === 'UNAUTHENTICATED') {
      showAlert('FinFlow did not accept that token: it is not valid, or it has expired.');
    } else {
      showAlert('Could not sign in: ' + explain(e));
    }
    $('token').focus();
  }
}

// signIn checks a token with the API and opens the customer's account.
async function signIn(token) {
  const c = claims(token);
  if (!c || typeof c.sub !== 'string') {
    throw new Error('that does not look like a FinFlow token');
  }
  if (c.role !== 'user') {
    throw new Error('this app is for customers, and that token is not a customer’s (admins use the ops console at /console)');
  }
  if (typeof c.exp === 'number' && c.exp * 1000 <= Date.now()) {
    throw new ApiError(401, 'UNAUTHENTICATED', 'expired');
  }
  const { data: user } = await api.call('GET', '/users/' + encodeURIComponent(c.sub), { token });
  api.signIn(token);
  generation++;
  session = { user, generation, balance: null, bills: new Map(), billReads: new Map(), payments: new Map(), timer: null };
  if (typeof c.exp === 'number') {
    const ms = Math.min(c.exp * 1000 - Date.now(), 2147483647);
    session.timer = setTimeout(() => signOut('Your sign-in has expired. Please sign in again.'), ms);
  }
  openAccount();
}

function signOut(message) {
  if (session && session.timer) {
    clearTimeout(session.timer);
  }
  if (openCheckout) {
    // Closed without ondismiss: the payment's own wait ends here.
    openCheckout.rzp.close();
    openCheckout.resolve('signed out');
    openCheckout = null;
  }
  inFlight.clear();
  confirming.clear();
  api.signOut();
  session = null;
  generation++;
  for (const id of ['activity', 'users', 'unpaid', 'subscriptions-list']) {
    $(id).replaceChildren();
  }
  for (const t of document.querySelectorAll('#account tbody')) {
    t.replaceChildren();
  }
  $('balance').textContent = '…';
  delete $('balance').dataset.paise;
  $('who-name').textContent = '';
  delete $('who').dataset.user;
  $('account-title').textContent = 'Your money';
  $('refreshed').textContent = '';
  $('add-money').reset();
  $('demo-bill').reset();
  walletKeys.clear();
  razorpayKeys.clear();
  formKeys.delete('demo-bill');
  topUpKey = null;
  for (const f of document.querySelectorAll('#account [aria-invalid]')) {
    f.removeAttribute('aria-invalid');
  }
  clearAlert();
  showSignIn(message, true);
}

// ------------------------------------------------------------ account

function openAccount() {
  clearAlert();
  $('users').replaceChildren(); // other customers' names stay off a customer's page
  $('sign-in').hidden = true;
  $('who-name').replaceChildren(userText(session.user.name, NO_NAME));
  $('who').dataset.user = session.user.id;
  $('who').hidden = false;
  $('account-title').replaceChildren('Hello, ', userText(session.user.name, NO_NAME));
  $('demo').hidden = !devMode;
  $('account').hidden = false;
  $('activity-empty').hidden = false;
  $('account-title').focus();
  if (checkoutScript) {
    loadCheckout().catch(() => {}); // warm up; a failure is told when paying
  }
  refresh();
}

const userPath = () => encodeURIComponent(session.user.id);

// pagedList shows one of the API's cursor-paged lists: reload() shows
// its first page, more() the next one.
function pagedList({ target, empty, more, path, query, keep, render }) {
  let cursor = null;
  const none = $(empty).textContent;
  async function load(first) {
    const gen = generation;
    try {
      // A list filtered here (paid and refunded bills, out of all bills)
      // may keep nothing of a page although older pages hold some: read
      // on, ten pages at most, rather than say "None yet." too soon.
      let next = first ? null : cursor;
      let items = [];
      for (let pages = 1; ; pages++) {
        const q = new URLSearchParams(query ? query() : {});
        q.set('limit', String(PAGE));
        if (next) {
          q.set('cursor', next);
        }
        const { data } = await api.call('GET', path() + '?' + q);
        if (gen !== generation) {
          return;
        }
        items = data.items.filter(keep || (() => true));
        next = data.next_cursor;
        if (items.length > 0 || !next || pages >= 10) {
          break;
        }
      }
      const rows = items.map(render);
      if (first) {
        const key = focusedRow(target);
        $(target).replaceChildren(...rows);
        keepFocus(target, key);
      } else {
        $(target).append(...rows);
      }
      cursor = next;
      $(more).hidden = !cursor;
      $(empty).textContent = none;
      $(empty).hidden = $(target).children.length > 0 || !!cursor;
    } catch (e) {
      if (gen !== generation) {
        return;
      }
      $(empty).textContent = 'Could not load this: ' + explain(e);
      $(empty).hidden = false;
    }
  }
  $(more).addEventListener('click', () => load(false));
  return { reload: () => load(true) };
}

const ledger = pagedList({
  target: 'ledger-rows', empty: 'ledger-empty', more: 'more-ledger',
  path: () => '/wallet/transactions/' + userPath(),
  render: (t) => {
    const credit = t.type === 'CREDIT';
    return el('tr', { data: { tx: t.id, type: t.type, amount: paiseDigits(t.amount) } },
      el('td', {}, when(t.created_at)),
      el('td', {}, ...ledgerWhat(t)),
      el('td', { className: 'num ' + (credit ? 'credit' : 'debit') }, signed(t.amount, credit)),
      el('td', { className: 'num' }, rupees(t.balance_after)));
  },
});

// ledgerWhat names a ledger entry by what made it (text and elements).
function ledgerWhat(t) {
  // "idem:<hash>" is what the wallet records for a credit made with an
  // Idempotency-Key and no reference: nothing a customer can read.
  const ref = (t.reference || '').startsWith('idem:') ? '' : t.reference || '';
  if (ref.startsWith('top_')) {
    return ['Money added (top-up)'];
  }
  if (ref.startsWith('rfd_')) {
    return ['Refund'];
  }
  if (ref.startsWith('pay_')) {
    const p = session ? session.payments.get(ref) : null;
    const b = p && session.bills.get(p.bill_id);
    return b ? ['Paid: ', userText(b.description, NO_DESCRIPTION)] : ['Bill payment'];
  }
  const what = t.type === 'CREDIT' ? 'Credit' : 'Debit';
  return ref ? [what + ': ', userText(ref)] : [what];
}

const unpaid = pagedList({
  target: 'unpaid', empty: 'unpaid-empty', more: 'more-unpaid',
  path: () => '/billing/user/' + userPath(),
  query: () => ({ status: 'UNPAID' }),
  render: billCard,
});

const pastBills = pagedList({
  target: 'past-bills-rows', empty: 'past-bills-empty', more: 'more-past-bills',
  path: () => '/billing/user/' + userPath(),
  keep: (b) => b.status !== 'UNPAID',
  render: (b) => {
    session.bills.set(b.id, b);
    return el('tr', { data: { bill: b.id, status: b.status } },
      el('td', {}, userText(b.description, NO_DESCRIPTION)),
      el('td', { className: 'num' }, rupees(b.amount)),
      el('td', {}, el('span', { className: 'badge ' + b.status.toLowerCase() }, statusWords[b.status] || b.status)),
      el('td', {}, when(b.paid_at)));
  },
});

const payments = pagedList({
  target: 'payments-rows', empty: 'payments-empty', more: 'more-payments',
  path: () => '/Payment/user/' + userPath(),
  render: (p) => {
    session.payments.set(p.id, p);
    const b = session.bills.get(p.bill_id);
    const state = el('span', { className: 'badge ' + p.status.toLowerCase() }, paymentWords[p.status] || p.status);
    return el('tr', { data: { payment: p.id, status: p.status, method: p.method } },
      el('td', {}, when(p.created_at)),
      b ? el('td', {}, userText(b.description, NO_DESCRIPTION)) : billCell(p.bill_id),
      el('td', {}, methodWords[p.method] || p.method),
      el('td', { className: 'num' }, p.amount == null ? '—' : rupees(p.amount)),
      el('td', {}, state, p.status === 'FAILED' ? ': ' + reasonWords(p.failure_reason) : '', lateWords(p),
        p.amount_refunded > 0 ? el('span', { className: 'refunded' }, ' · ' + rupees(p.amount_refunded) + ' refunded') : ''));
  },
});

// billCell is the payments table's cell for a bill the page has not
// loaded (an older one, past the pages shown): "a bill" until the bill is
// read (GET /billing/{id}, once per bill per sign-in), then its
// description, as for the bills the page has. A bill that cannot be read
// stays "a bill", never its raw id.
function billCell(billId) {
  const cell = el('td', { data: { billLookup: billId } }, 'A bill');
  const gen = generation;
  let read = session.billReads.get(billId);
  if (!read) {
    read = api.call('GET', '/billing/' + encodeURIComponent(billId)).then(({ data }) => data, () => null);
    session.billReads.set(billId, read);
  }
  read.then((bill) => {
    if (gen !== generation || !bill) {
      return;
    }
    if (!session.bills.has(bill.id)) {
      session.bills.set(bill.id, bill);
    }
    cell.replaceChildren(userText(bill.description, NO_DESCRIPTION));
  });
  return cell;
}

const topups = pagedList({
  target: 'topups-rows', empty: 'topups-empty', more: 'more-topups',
  path: () => '/wallet/user/' + userPath() + '/topups',
  render: (t) => el('tr', { data: { topup: t.id, status: t.status } },
    el('td', {}, when(t.created_at)),
    el('td', { className: 'num' }, rupees(t.amount)),
    el('td', {}, el('span', { className: 'badge ' + t.status.toLowerCase() }, topUpWords[t.status] || t.status),
      t.status === 'FAILED' ? ': ' + reasonWords(t.failure_reason) : '', lateWords(t))),
});

// lateWords says, on a listed payment or top-up, where money Razorpay took
// after it had ended went (settled_by), or that money it took is being or
// was given back (refund).
function lateWords(p) {
  const r = p.refund;
  if (r && (r.status === 'processed' || r.status === 'pending')) {
    return ' · ' + rupees(r.amount) + ' taken by Razorpay ' + (r.status === 'processed' ? 'was given back' : 'is being given back');
  }
  if (p.status === 'FAILED' && p.settled_by) {
    return ' · the money reached Razorpay later, as another ' + (p.id.startsWith('top_') ? 'top-up' : 'payment');
  }
  return '';
}

const subscriptions = pagedList({
  target: 'subscriptions-list', empty: 'subscriptions-empty', more: 'more-subscriptions',
  path: () => '/billing/user/' + userPath() + '/subscriptions',
  render: subscriptionItem,
});

let refreshing = null;
let again = false;

// refresh reloads everything the account shows (one run at a time; a
// refresh asked for meanwhile runs once more after it).
function refresh() {
  if (!session) {
    return Promise.resolve();
  }
  if (refreshing) {
    again = true;
    return refreshing;
  }
  // Screen readers wait for the lists to be drawn before reading them.
  $('account').setAttribute('aria-busy', 'true');
  refreshing = (async () => {
    await Promise.all([loadBalance(), unpaid.reload(), pastBills.reload(), subscriptions.reload(), topups.reload()]);
    settleStale();
    // Payments name their bills, and the ledger its payments.
    await payments.reload();
    showPending();
    await ledger.reload();
    if (focusLost) {
      focusLost = false;
      // The focused button went with its row (a bill paid, a
      // subscription ended): the line saying so takes the focus.
      if (session && (document.activeElement === document.body || !document.activeElement)) {
        const item = document.querySelector('#activity li');
        (item || $('bills-title')).focus();
      }
    }
  })().finally(() => {
    refreshing = null;
    if (again) {
      again = false;
      refresh();
    } else {
      $('account').removeAttribute('aria-busy');
    }
  });
  return refreshing;
}

// focusLost is set when a list drawn again no longer has the button that
// had the focus.
let focusLost = false;

// focusedRow names the button of one of target's rows (a bill, a
// subscription) that has the focus, or returns null.
function focusedRow(target) {
  const a = document.activeElement;
  if (!a || !a.dataset || !a.dataset.action || !$(target).contains(a)) {
    return null;
  }
  const row = [...$(target).children].find((r) => r.contains(a));
  return row ? { row: rowKey(row), action: a.dataset.action } : null;
}

// rowKey is what a list's row stands for: its bill or its subscription.
const rowKey = (r) => r.dataset.bill || r.dataset.subscription;

// keepFocus gives the focus to the same button in target's new rows, in
// the same task that drew them, so no key press in between lands on the
// page's body: a customer who tabbed to "Pay from wallet" while the list
// was being drawn again still pays that bill with Enter.
function keepFocus(target, key) {
  if (!key) {
    return;
  }
  const row = [...$(target).children].find((r) => rowKey(r) === key.row);
  // The same button, or, when it was one drawn on the row meanwhile (the
  // "Yes, cancel it" of a cancel being confirmed), the row's own button.
  const shown = (sel) => row && [...row.querySelectorAll(sel)].find((b) => !b.hidden);
  const same = shown('[data-action="' + CSS.escape(key.action) + '"]') || shown('[data-action]');
  if (same) {
    same.focus();
  } else {
    focusLost = true;
  }
}

async function loadBalance() {
  const gen = generation;
  try {
    const { data } = await api.call('GET', '/wallet/balance/' + userPath());
    if (gen !== generation) {
      return;
    }
    session.balance = data.balance;
    $('balance').textContent = rupees(data.balance);
    $('balance').dataset.paise = paiseDigits(data.balance);
    $('no-wallet').hidden = true;
    $('add-money').hidden = false;
  } catch (e) {
    if (gen !== generation) {
      return;
    }
    if (e.code === 'WALLET_NOT_FOUND') {
      $('balance').textContent = 'no wallet';
      $('no-wallet').hidden = false;
      $('add-money').hidden = true;
      return;
    }
    $('balance').textContent = 'unknown';
    showAlert('Could not read your wallet: ' + explain(e));
  }
}

// billCard is an unpaid bill with its two ways to pay.
function billCard(b) {
  session.bills.set(b.id, b);
  const title = 'bill-' + b.id;
  const pay = (action, label, fn) => {
    const btn = el('button', { type: 'button', className: action === 'pay-razorpay' ? 'razorpay' : '', data: { action } }, label);
    btn.setAttribute('aria-describedby', title);
    markBusy(btn, b.id); // drawn again while one of its payments is under way
    btn.addEventListener('click', () => {
      if (btn.getAttribute('aria-disabled') === 'true') {
        return;
      }
      fn(b, btn);
    });
    return btn;
  };
  const li = el('li', { data: { bill: b.id, status: b.status } },
    el('p', { id: title, className: 'bill-title' }, el('strong', {}, userText(b.description, NO_DESCRIPTION)), ' ',
      el('span', { className: 'amount' }, rupees(b.amount))),
    el('p', { className: 'hint' }, b.due_date ? el('span', {}, 'Due ', when(b.due_date, true), ' · ') : '', 'Issued ', when(b.created_at),
      b.subscription_id ? ' · from a subscription' : ''),
    el('p', { className: 'hint pending-note', hidden: true }),
    el('div', { className: 'actions' },
      pay('pay-wallet', 'Pay from wallet', payFromWallet),
      b.amount < RAZORPAY_MIN
        ? el('span', { className: 'hint' }, 'Razorpay takes payments from ' + rupees(RAZORPAY_MIN) + ': pay this one from your wallet.')
        : pay('pay-razorpay', 'Pay with Razorpay', payWithRazorpay)));
  showPendingOn(li);
  return li;
}

// pendingOf is the newest PENDING payment of a bill that the payments
// list shows (but not the payment named except), or null.
function pendingOf(billId, except) {
  for (const r of document.querySelectorAll('#payments-rows tr[data-status="PENDING"]')) {
    const p = session.payments.get(r.dataset.payment);
    if (p && p.bill_id === billId && p.id !== except) {
      return p;
    }
  }
  return null;
}

// showPending says on each unpaid bill's card whether a payment of it is
// pending (the payments list is read after the bills).
function showPending() {
  for (const li of $('unpaid').children) {
    showPendingOn(li);
  }
}

function showPendingOn(li) {
  const note = li.querySelector('.pending-note');
  const p = session && pendingOf(li.dataset.bill);
  note.hidden = !p;
  if (!p) {
    note.replaceChildren();
  } else if (p.method === 'RAZORPAY') {
    note.replaceChildren('A Razorpay payment of this bill is pending (started ', when(p.created_at), '). It holds the bill until it is paid, ' +
      'or until its order expires about ' + ORDER_MINUTES + ' minutes after it was started; “Pay with Razorpay” opens its checkout again.');
  } else {
    note.replaceChildren('A payment of this bill from your wallet is pending (started ', when(p.created_at), '): FinFlow is finishing it.');
  }
}

// confirming holds the subscriptions whose cancel is being confirmed, so
// that the question stays open when the list is drawn again.
const confirming = new Set();

function subscriptionItem(s) {
  const li = el('li', { data: { subscription: s.id, status: s.status } },
    el('p', {}, el('strong', {}, userText(s.description, NO_DESCRIPTION)), ' ', rupees(s.amount), ' ', intervalWords[s.interval] || s.interval),
    el('p', { className: 'hint' }, statusWords[s.status] || s.status,
      s.autopay ? ' · paid automatically from your wallet' : ' · you pay each bill',
      s.status === 'ACTIVE' && s.next_bill_at ? el('span', {}, ' · next bill ', when(s.next_bill_at)) : ''));
  if (s.status === 'ACTIVE') {
    const cancel = el('button', { type: 'button', className: 'quiet', data: { action: 'cancel' } }, 'Cancel subscription');
    cancel.setAttribute('aria-label', 'Cancel subscription: ' + plainText(s.description, NO_DESCRIPTION));
    cancel.addEventListener('click', () => confirmCancel(li, s, cancel, true));
    li.append(el('div', { className: 'actions' }, cancel));
    if (confirming.has(s.id)) {
      confirmCancel(li, s, cancel, false);
    }
  } else {
    confirming.delete(s.id);
  }
  return li;
}

// confirmCancel asks before cancelling s; moveFocus puts the focus on
// the answer that cancels (not when the question is only drawn again).
function confirmCancel(li, s, cancel, moveFocus) {
  confirming.add(s.id);
  const box = el('div', { className: 'confirm', role: 'group', 'aria-label': 'Confirm cancelling ' + plainText(s.description, NO_DESCRIPTION) },
    el('p', {}, 'Cancel “', userText(s.description, NO_DESCRIPTION), '”? No bill is made after this.'));
  const yes = el('button', { type: 'button', data: { action: 'confirm-cancel' } }, 'Yes, cancel it');
  const no = el('button', { type: 'button', className: 'quiet', data: { action: 'keep' } }, 'Keep it');
  box.append(yes, ' ', no);
  cancel.hidden = true;
  li.append(box);
  if (moveFocus) {
    yes.focus();
  }
  no.addEventListener('click', () => {
    confirming.delete(s.id);
    box.remove();
    cancel.hidden = false;
    cancel.focus();
  });
  // Escape answers "Keep it", as it closes any question.
  box.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && box.isConnected && no.isConnected) {
      ev.preventDefault();
      no.click();
    }
  });
  yes.addEventListener('click', async () => {
    try {
      await api.call('POST', '/billing/subscriptions/' + encodeURIComponent(s.id) + '/cancel', { key: newKey() });
      confirming.delete(s.id);
      note('Subscription cancelled: ', userText(s.description, NO_DESCRIPTION), '.');
      await refresh();
      $('subscriptions-title').focus();
    } catch (e) {
      if (e.code === 'SUBSCRIPTION_ALREADY_CANCELLED') {
        // Cancelled meanwhile: what the customer asked for holds.
        confirming.delete(s.id);
        note('Subscription cancelled already (in another tab, or by FinFlow’s staff): ', userText(s.description, NO_DESCRIPTION), '.');
        await refresh();
        $('subscriptions-title').focus();
        return;
      }
      box.replaceChildren(el('p', {}, 'Could not cancel: ' + explain(e)), no);
      no.focus();
    }
  });
}

// ------------------------------------------------------- what happens

// activity adds a line to "What is happening", titled with text and
// elements, and returns it. Its data-state is starting, checkout,
// confirming, success, failed, cancelled, unknown (no answer came: whether
// it took effect is not known) or not-done (refused before anything was
// done: rate limited).
function activity(...title) {
  $('activity-empty').hidden = true;
  const li = el('li', { tabIndex: -1, data: { state: 'starting' } }, el('strong', {}, ...title), ' ', el('span', { className: 'state' }, 'Starting…'));
  $('activity').prepend(li);
  while ($('activity').children.length > 6) {
    $('activity').lastChild.remove();
  }
  return li;
}

function setState(li, state, text) {
  li.dataset.state = state;
  li.querySelector('.state').textContent = text;
}

// note adds a finished line (a bill added, a subscription cancelled).
function note(...text) {
  setState(activity(...text), 'success', '');
}

// notKnown shows on li an error that is no definite answer: a 429 did
// nothing; after no answer (a timeout, 5xx, no connection) whether it took
// effect is not known, and pressing the same button again (again) sends
// the same request, which never pays twice.
function notKnown(li, e, again) {
  if (e.status === 429) {
    setState(li, 'not-done', explain(e));
  } else {
    setState(li, 'unknown', explain(e) + ' ' + again);
  }
}

// supersede removes the lines of earlier tries of what li tries again
// (the same bill, or a top-up) whose outcome was not known or that were
// not done: li says how it ends.
function supersede(li) {
  for (const old of document.querySelectorAll('#activity li:is([data-state="unknown"], [data-state="not-done"])')) {
    if (old !== li && old.dataset.attempt === li.dataset.attempt) {
      old.remove();
    }
  }
}

// settleStale says on a line whose outcome was not known that its bill
// is paid, once the bills read say so.
function settleStale() {
  for (const li of document.querySelectorAll('#activity li[data-state="unknown"][data-bill]')) {
    const b = session && session.bills.get(li.dataset.bill);
    if (b && b.status !== 'UNPAID') {
      setState(li, 'success', 'The bill is paid now: see Payments below.');
    }
  }
}

// busy marks a bill's buttons as its payment starts and ends (inFlight
// says whether one is under way).
function busy(billId) {
  for (const b of document.querySelectorAll('[data-bill="' + CSS.escape(billId) + '"] [data-action]')) {
    markBusy(b, billId);
  }
}

// markBusy marks one of a bill's buttons busy while inFlight has the bill.
function markBusy(btn, billId) {
  if (inFlight.has(billId)) {
    btn.setAttribute('aria-disabled', 'true');
  } else {
    btn.removeAttribute('aria-disabled');
  }
}

const inFlight = new Set();
// Keys of requests whose outcome is not known (no answer came): asking
// again sends the same key, so nothing is paid or charged twice.
const walletKeys = new Map();
const razorpayKeys = new Map();
let topUpKey = null;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// awaitFinal asks FinFlow about a payment or top-up until it is SUCCESS
// or FAILED. It returns the final record, or null when the session ended.
async function awaitFinal(li, path, waiting) {
  const gen = generation;
  for (let tries = 1; ; tries++) {
    await sleep(tries <= 10 ? 1000 : tries <= 30 ? 2000 : 5000);
    if (gen !== generation) {
      return null;
    }
    try {
      const { data } = await api.call('GET', path);
      if (data.status === 'SUCCESS' || data.status === 'FAILED') {
        return data;
      }
      setState(li, 'confirming', tries >= 30
        ? 'Still waiting for Razorpay’s confirmation to reach FinFlow. It settles by itself; you can keep using the page.'
        : waiting);
    } catch (e) {
      if (gen !== generation || e.code === 'UNAUTHENTICATED') {
        return null;
      }
      setState(li, 'confirming', 'Could not ask FinFlow (' + explain(e) + ') Still trying…');
    }
  }
}

// settleBill shows a bill payment's final state.
function settleBill(li, p, bill, how) {
  li.dataset.payment = p.id;
  if (p.status === 'SUCCESS') {
    setState(li, 'success', 'Paid ' + rupees(p.amount) + how + '.');
  } else if (p.failure_reason === 'BILL_ALREADY_PAID') {
    // The bill may be paid, or held by a payment still under way.
    setState(li, 'failed', 'The payment failed: ' + reasonWords(p.failure_reason) + '. Nothing was taken for it.');
  } else {
    setState(li, 'failed', 'The payment failed: ' + reasonWords(p.failure_reason) + '. The bill is still unpaid' +
      (p.method === 'RAZORPAY' ? ' and nothing was charged; you can try again.' : '.'));
  }
}

// settleRazorpayBill shows how a Razorpay payment of a bill ended, money
// taken after it had ended included (ended: afterEnded's answer).
function settleRazorpayBill(li, ended, bill) {
  if (!showLate(li, ended, {
    done: (paise) => 'Paid ' + rupees(paise) + ' through Razorpay.', noun: 'payment', took: 'payment of this bill',
    finds: ', and pays this bill with it or gives it back: see Payments below',
  })) {
    settleBill(li, ended.rec, bill, ' through Razorpay');
  }
}

// showLate shows on li what became of money Razorpay took after FinFlow had
// ended the first try (ended: afterEnded's answer), in the words w of a
// bill's payment or a top-up; false when there is no such money to tell of.
function showLate(li, { rec, late, unheard }, w) {
  if (late && late.status === 'SUCCESS') {
    setState(li, 'success', w.done(late.amount) + ' Your payment reached Razorpay after FinFlow had ended the first try (' +
      reasonWords(rec.failure_reason) + '), so FinFlow took it as a new ' + w.took + '.');
  } else if (late) {
    setState(li, 'failed', gaveBack(late));
  } else if (unheard) {
    setState(li, 'unknown', 'Razorpay’s checkout said you paid, but FinFlow had already ended this ' + w.noun + ' (' + reasonWords(rec.failure_reason) +
      ') and has not heard of any money for it yet. If Razorpay took money, FinFlow finds it by itself within a day' + w.finds + '.');
  } else {
    return false;
  }
  return true;
}

async function payFromWallet(bill) {
  if (inFlight.has(bill.id)) {
    return;
  }
  inFlight.add(bill.id);
  busy(bill.id);
  const li = activity(userText(bill.description, NO_DESCRIPTION), ' (' + rupees(bill.amount) + ') from your wallet');
  li.dataset.bill = bill.id;
  li.dataset.attempt = 'bill ' + bill.id;
  supersede(li);
  setState(li, 'starting', 'Paying…');
  const key = walletKeys.get(bill.id) || newKey();
  walletKeys.set(bill.id, key);
  try {
    const { data: p } = await api.call('POST', '/Payment/pay', { body: { bill_id: bill.id }, key });
    walletKeys.delete(bill.id);
    li.dataset.payment = p.id;
    if (p.status === 'PENDING') {
      setState(li, 'confirming', 'Confirming with FinFlow…');
      const final = await awaitFinal(li, '/Payment/' + encodeURIComponent(p.id), 'Confirming with FinFlow…');
      if (final) {
        settleBill(li, final, bill, ' from your wallet');
      }
    } else {
      settleBill(li, p, bill, ' from your wallet');
    }
  } catch (e) {
    if (e.definite) {
      walletKeys.delete(bill.id);
    }
    if (e.details && e.details.payment_id) {
      li.dataset.payment = e.details.payment_id;
    }
    if (e.code === 'INSUFFICIENT_FUNDS') {
      // The balance last shown may be old (another tab paid meanwhile):
      // read it again before quoting it.
      await loadBalance();
      setState(li, 'failed', 'Not enough money in your wallet: the bill is ' + rupees(bill.amount) +
        (session && session.balance !== null ? ' and your balance is ' + rupees(session.balance) : '') +
        '. Nothing was taken. Add money' + (bill.amount < RAZORPAY_MIN ? '.' : ', or pay with Razorpay.'));
    } else if (e.definite) {
      setState(li, 'failed', explain(e, bill.id));
    } else {
      notKnown(li, e, 'Whether it was paid is not known yet: look at Payments below, or press “Pay from wallet” again, which never pays twice.');
    }
  } finally {
    inFlight.delete(bill.id);
    busy(bill.id);
    refresh();
  }
}

async function payWithRazorpay(bill) {
  if (inFlight.has(bill.id) || bill.amount < RAZORPAY_MIN) {
    return; // (a card offers no Razorpay for less than it takes)
  }
  inFlight.add(bill.id);
  busy(bill.id);
  const li = activity(userText(bill.description, NO_DESCRIPTION), ' (' + rupees(bill.amount) + ') through Razorpay');
  li.dataset.bill = bill.id;
  li.dataset.attempt = 'bill ' + bill.id;
  supersede(li);
  setState(li, 'starting', 'Creating the Razorpay order…');
  try {
    const key = razorpayKeys.get(bill.id) || newKey();
    razorpayKeys.set(bill.id, key);
    let p;
    try {
      ({ data: p } = await api.call('POST', '/Payment/rozarpay', { body: { bill_id: bill.id }, key }));
      razorpayKeys.delete(bill.id);
    } catch (e) {
      if (e.definite) {
        razorpayKeys.delete(bill.id);
        setState(li, 'failed', explain(e, bill.id));
      } else {
        notKnown(li, e, 'Nothing was charged. Whether the order was made is not known yet: press “Pay with Razorpay” again, which carries on with the same request.');
      }
      return;
    }
    li.dataset.payment = p.id;
    if (p.status !== 'PENDING') {
      settleBill(li, p, bill, ' through Razorpay');
      return;
    }
    const path = '/Payment/' + encodeURIComponent(p.id);
    const opener = () => document.querySelector('#unpaid [data-bill="' + CSS.escape(bill.id) + '"] [data-action="pay-razorpay"]');
    const ended = await throughCheckout(li, p.razorpay, plainText(bill.description, NO_DESCRIPTION), path, 'The bill is still unpaid.', opener);
    if (ended) {
      settleRazorpayBill(li, ended, bill);
    }
  } finally {
    inFlight.delete(bill.id);
    busy(bill.id);
    refresh();
  }
}

async function addMoney(ev) {
  ev.preventDefault();
  const input = $('topup-amount');
  const amount = toPaise(input.value);
  if (amount.error) {
    showAlert(amount.error);
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    return;
  }
  if (amount.paise < RAZORPAY_MIN) {
    showAlert('Money is added through Razorpay, which takes payments from ' + rupees(RAZORPAY_MIN) + '.');
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    return;
  }
  input.removeAttribute('aria-invalid');
  clearAlert();
  if (inFlight.has('topup')) {
    return;
  }
  inFlight.add('topup');
  $('add-money-button').setAttribute('aria-disabled', 'true');
  const li = activity('Adding ' + rupees(amount.paise) + ' to your wallet');
  li.dataset.attempt = 'topup';
  supersede(li);
  try {
    if (!topUpKey || topUpKey.paise !== amount.paise) {
      topUpKey = { paise: amount.paise, key: newKey() };
    }
    let t;
    try {
      ({ data: t } = await api.call('POST', '/wallet/topup', { body: { user_id: session.user.id, amount: amount.paise }, key: topUpKey.key }));
      topUpKey = null;
    } catch (e) {
      if (e.definite) {
        topUpKey = null;
        setState(li, 'failed', explain(e));
      } else {
        notKnown(li, e, 'Nothing was charged. Whether the top-up was made is not known yet: press “Add money” again for the same amount, which carries on with the same request.');
      }
      return;
    }
    li.dataset.topup = t.id;
    input.value = '';
    const ended = await throughCheckout(li, t.razorpay, 'Add money to your FinFlow wallet', '/wallet/topup/' + encodeURIComponent(t.id), 'Your wallet was not credited.',
      () => $('add-money-button'));
    if (!ended) {
      return;
    }
    const added = (paise) => rupees(paise) + ' added to your wallet.';
    if (ended.rec.status === 'SUCCESS') {
      setState(li, 'success', added(ended.rec.amount));
    } else if (!showLate(li, ended, { done: added, noun: 'top-up', took: 'top-up', finds: ' and adds it to your wallet: see Top-ups below' })) {
      setState(li, 'failed', 'Adding money failed: ' + reasonWords(ended.rec.failure_reason) + '. Your wallet was not credited and nothing was charged.');
    }
  } finally {
    inFlight.delete('topup');
    $('add-money-button').removeAttribute('aria-disabled');
    refresh();
  }
}

// ------------------------------------------------- Standard Checkout

let checkoutLoading = null;
let openCheckout = null;

// loadCheckout loads the checkout script once (Razorpay's, or the
// simulator's stand-in with the same API).
function loadCheckout() {
  if (window.Razorpay) {
    return Promise.resolve(window.Razorpay);
  }
  if (!checkoutScript) {
    return Promise.reject(new Error('no checkout script is set for this address'));
  }
  if (!checkoutLoading) {
    checkoutLoading = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = checkoutScript;
      s.async = true;
      s.onload = () => (window.Razorpay ? resolve(window.Razorpay) : reject(new Error('the checkout script defined no Razorpay')));
      s.onerror = () => {
        checkoutLoading = null;
        s.remove();
        reject(new Error('the checkout script did not load'));
      };
      document.head.append(s);
    });
  }
  return checkoutLoading;
}

// throughCheckout opens Standard Checkout on a FinFlow-made order and then
// asks FinFlow (path) until the payment or top-up is final. What the
// checkout reports is only a hint: the answer is FinFlow's. It returns the
// final record, or null when there is none to show (closed, not loaded,
// signed out). opener finds the button that opened the checkout, as it is
// on the page when the checkout closes.
async function throughCheckout(li, order, description, path, unchanged, opener) {
  const gen = generation;
  let failedWith = '';
  let outcome;
  // The checkout gives the focus back to the element that opened it, but
  // that button may have been drawn again meanwhile (a failed payment
  // refreshes the page while the checkout still shows the failure): then
  // the focus would be nowhere. It goes to the button as it is now, or to
  // the payment's line when the button is gone.
  const refocus = () => setTimeout(() => {
    const a = document.activeElement;
    if (gen === generation && (!a || a === document.body)) {
      (opener && opener() || li).focus();
    }
  }, 0);
  try {
    const Razorpay = await loadCheckout();
    setState(li, 'checkout', 'Waiting for you to finish in Razorpay’s checkout…');
    outcome = await new Promise((resolve) => {
      const rzp = new Razorpay({
        key: order.key_id,
        amount: order.amount,
        currency: order.currency,
        order_id: order.order_id,
        name: 'FinFlow',
        description,
        prefill: { name: session.user.name, email: session.user.email, contact: session.user.phone || '' },
        theme: { color: THEME },
        // FinFlow ends a payment at its first failure; another try is a
        // new payment with its own order.
        retry: { enabled: false },
        modal: {
          ondismiss: () => {
            openCheckout = openCheckout && openCheckout.rzp === rzp ? null : openCheckout;
            resolve('dismissed');
            refocus();
          },
          escape: true,
        },
        handler: () => {
          openCheckout = openCheckout && openCheckout.rzp === rzp ? null : openCheckout;
          resolve('paid');
          refocus();
        },
      });
      // After a failure the modal stays open to say so, until closed.
      rzp.on('payment.failed', (r) => {
        failedWith = r && r.error && r.error.description ? plainText(r.error.description) : '';
        resolve('failed');
      });
      openCheckout = { rzp, resolve };
      rzp.open();
    });
  } catch (e) {
    setState(li, 'failed', 'Razorpay’s checkout could not be opened (' + e.message + '). Nothing was charged. ' + unchanged);
    return null;
  }
  if (gen !== generation) {
    return null;
  }
  if (outcome === 'dismissed') {
    // Closed without paying, most likely; FinFlow still has the last word.
    try {
      const { data } = await api.call('GET', path);
      if (data.status === 'SUCCESS' || data.status === 'FAILED') {
        return afterEnded(li, data, path, false);
      }
    } catch (e) {
      // Told below as not paid: nothing was confirmed.
    }
    setState(li, 'cancelled', 'You closed the checkout without paying. Nothing was charged. ' + unchanged);
    return null;
  }
  const waiting = outcome === 'paid'
    ? 'Razorpay’s checkout says you paid. Confirming with FinFlow…'
    : 'Razorpay’s checkout says the payment failed' + (failedWith ? ' (' + failedWith + ')' : '') + '. Confirming with FinFlow…';
  setState(li, 'confirming', waiting);
  const final = await awaitFinal(li, path, waiting);
  return final && afterEnded(li, final, path, outcome === 'paid');
}

// afterEnded finds out what became of money Razorpay took for a payment or
// top-up (rec, read at path) that FinFlow ended FAILED before: such a
// capture is a payment or top-up of its own, named by rec's settled_by,
// and the page waits for that one to end too. When the checkout said the
// customer paid (paid) and rec names none yet, it asks again for
// LATE_WAIT_MS. It returns {rec, late, unheard}: late is the late one as it
// ended; unheard says the checkout said paid and FinFlow had heard of no
// money for rec by then. It returns null when the session ended.
async function afterEnded(li, rec, path, paid) {
  if (rec.status !== 'FAILED') {
    return { rec, late: null, unheard: false };
  }
  const gen = generation;
  const noun = path.startsWith('/wallet/topup/') ? 'top-up' : 'payment';
  const waiting = 'Razorpay’s checkout says you paid, but FinFlow had already ended this ' + noun + ' (' +
    reasonWords(rec.failure_reason) + '). Finding out what became of the money…';
  for (const started = Date.now(); paid && !rec.settled_by && Date.now() - started < LATE_WAIT_MS;) {
    setState(li, 'confirming', waiting);
    await sleep(2000);
    if (gen !== generation) {
      return null;
    }
    try {
      ({ data: rec } = await api.call('GET', path));
    } catch (e) {
      if (gen !== generation || e.code === 'UNAUTHENTICATED') {
        return null;
      }
    }
  }
  if (!rec.settled_by) {
    return { rec, late: null, unheard: paid };
  }
  li.dataset.late = rec.settled_by;
  const lateWaiting = 'Razorpay took the money after FinFlow had ended this ' + noun + '. Finding out what FinFlow did with it…';
  setState(li, 'confirming', lateWaiting);
  const late = await awaitFinal(li, path.slice(0, path.lastIndexOf('/') + 1) + encodeURIComponent(rec.settled_by), lateWaiting);
  return late && { rec, late, unheard: false };
}

// gaveBack says what became of money Razorpay took that FinFlow could not
// use (late: a late payment or top-up that ended FAILED), and why.
function gaveBack(late) {
  const took = 'Razorpay took ' + rupees(late.amount) + ' after FinFlow had ended the first try';
  const refund = late.refund;
  if (late.failure_reason === 'REFUNDED_AT_GATEWAY') {
    return took + ', and it has been refunded to you at Razorpay.';
  }
  if (refund && (refund.status === 'processed' || refund.status === 'pending')) {
    return took + ', but ' + reasonWords(late.failure_reason) + ', so FinFlow ' +
      (refund.status === 'processed' ? 'gave it back to you' : 'has asked Razorpay to give it back to you') + ' (a refund of ' + rupees(refund.amount) + ').';
  }
  return took + ', and FinFlow could not use it (' + reasonWords(late.failure_reason) + '). It has been passed to FinFlow’s staff to give back.';
}

// ------------------------------------------------------------- wiring

async function addDemoBill(ev) {
  ev.preventDefault();
  const description = $('demo-description').value.trim();
  const amount = toPaise($('demo-amount').value);
  if (!description) {
    showAlert('Describe the bill.');
    $('demo-description').focus();
    return;
  }
  if (amount.error) {
    showAlert(amount.error);
    $('demo-amount').focus();
    return;
  }
  clearAlert();
  if (!startForm('demo-bill')) {
    return;
  }
  const body = { user_id: session.user.id, amount: amount.paise, description };
  try {
    await api.call('POST', '/billing/create', { body, key: formKey('demo-bill', body) });
    formKeys.delete('demo-bill');
    $('demo-bill').reset();
    note('Bill added: ', userText(description, NO_DESCRIPTION), ' (' + rupees(amount.paise) + ').');
    await refresh();
  } catch (e) {
    if (e.definite) {
      formKeys.delete('demo-bill');
    }
    showAlert('Could not add the bill: ' + explain(e) + (e.definite ? '' : ' Press “Add the bill” again: it carries on with the same request.'));
  } finally {
    endForm('demo-bill');
  }
}

async function openWallet() {
  try {
    await api.call('POST', '/wallet/create/' + userPath(), { key: newKey() });
    note('Wallet opened.');
  } catch (e) {
    if (e.code !== 'WALLET_EXISTS') {
      showAlert('Could not open a wallet: ' + explain(e));
      return;
    }
  }
  await refresh();
  $('topup-amount').focus();
}

$('new-user').addEventListener('submit', createCustomer);
$('token-form').addEventListener('submit', tokenSignIn);
$('more-users').addEventListener('click', () => loadUsers(usersCursor));
$('sign-out').addEventListener('click', () => signOut(''));
$('refresh').addEventListener('click', async () => {
  clearAlert();
  $('refreshed').textContent = 'Refreshing…';
  await refresh();
  $('refreshed').textContent = 'Updated ' + dateTime.format(new Date());
});
$('add-money').addEventListener('submit', addMoney);
$('open-wallet').addEventListener('click', openWallet);
$('demo-bill').addEventListener('submit', addDemoBill);
showSignIn('', false);
