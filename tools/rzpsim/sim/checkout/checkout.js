/*
 * FinFlow's Razorpay simulator: a stand-in for Razorpay's Standard Checkout
 * script (https://checkout.razorpay.com/v1/checkout.js), for offline runs
 * and tests. Same global, same options, same callbacks:
 *
 *   var rzp = new Razorpay({key, amount, currency, order_id, name,
 *     description, prefill, notes, theme, retry, timeout, handler,
 *     modal: {ondismiss, escape}});
 *   rzp.on('payment.failed', function (response) { response.error... });
 *   rzp.open();
 *
 * open() shows a modal whose iframe is the simulator's checkout page; the
 * two talk by postMessage, each checking the other's origin and window.
 * Test mode only: no real money moves.
 */
(function () {
  'use strict';

  var script = document.currentScript;
  if (!script || !script.src) {
    throw new Error('Razorpay checkout stand-in: load it with <script src="…/v1/checkout.js">');
  }
  var simOrigin = new URL(script.src).origin;
  var frameURL = simOrigin + '/v1/checkout/public?origin=' + encodeURIComponent(window.location.origin);

  function Razorpay(options) {
    if (!(this instanceof Razorpay)) {
      return new Razorpay(options);
    }
    if (!options || typeof options !== 'object') {
      throw new Error('Razorpay: options are required');
    }
    if (!options.key) {
      throw new Error('Razorpay: options.key (your key id) is required');
    }
    if (!options.order_id) {
      throw new Error('Razorpay: options.order_id is required by this stand-in (create an order on your server)');
    }
    if (typeof options.handler !== 'function') {
      throw new Error('Razorpay: options.handler must be a function (callback_url is not simulated)');
    }
    this._options = options;
    this._listeners = {};
    this._open = null;
  }

  // on registers a callback for an event ('payment.failed').
  Razorpay.prototype.on = function (event, callback) {
    if (typeof callback === 'function') {
      (this._listeners[event] = this._listeners[event] || []).push(callback);
    }
    return this;
  };

  Razorpay.prototype._emit = function (event, payload) {
    (this._listeners[event] || []).forEach(function (cb) {
      try {
        cb(payload);
      } catch (e) {
        setTimeout(function () { throw e; });
      }
    });
  };

  // cloneable keeps the options the checkout page needs (functions cannot
  // cross postMessage).
  function cloneable(o) {
    var modal = o.modal || {};
    return {
      key: String(o.key),
      order_id: String(o.order_id),
      amount: o.amount,
      currency: o.currency || 'INR',
      name: o.name || '',
      description: o.description || '',
      image: typeof o.image === 'string' ? o.image : '',
      prefill: o.prefill && typeof o.prefill === 'object' ? {
        name: o.prefill.name || '', email: o.prefill.email || '',
        contact: o.prefill.contact || '', method: o.prefill.method || ''
      } : {},
      theme: { color: o.theme && o.theme.color ? String(o.theme.color) : '' },
      retry: { enabled: !(o.retry && o.retry.enabled === false) },
      escape: modal.escape !== false
    };
  }

  Razorpay.prototype.open = function () {
    if (this._open) {
      return this;
    }
    var self = this;
    var opts = this._options;
    var returnFocus = document.activeElement;

    var overlay = document.createElement('div');
    overlay.setAttribute('role', 'dialog');
    overlay.setAttribute('aria-modal', 'true');
    overlay.setAttribute('aria-label', 'Razorpay Checkout');
    overlay.className = 'razorpay-container';
    // Styles through the CSSOM, which a merchant's Content-Security-Policy
    // without 'unsafe-inline' still allows.
    Object.assign(overlay.style, {
      position: 'fixed', inset: '0', zIndex: '2147483647', display: 'flex',
      alignItems: 'center', justifyContent: 'center', background: 'rgba(0, 0, 0, 0.6)'
    });
    var frame = document.createElement('iframe');
    frame.src = frameURL;
    frame.title = 'Razorpay Checkout (test mode)';
    frame.setAttribute('allow', 'payment');
    Object.assign(frame.style, {
      width: 'min(420px, 100vw)', height: 'min(620px, 100vh)', border: '0',
      borderRadius: '8px', background: '#fff', boxShadow: '0 8px 32px rgba(0, 0, 0, 0.4)'
    });
    overlay.appendChild(frame);

    function onMessage(ev) {
      if (ev.origin !== simOrigin || ev.source !== frame.contentWindow || !ev.data || typeof ev.data !== 'object') {
        return;
      }
      var m = ev.data;
      switch (m.rzpsim) {
        case 'ready':
          frame.contentWindow.postMessage({ rzpsim: 'options', options: cloneable(opts) }, simOrigin);
          break;
        case 'success':
          self._close();
          opts.handler({
            razorpay_payment_id: m.response.razorpay_payment_id,
            razorpay_order_id: m.response.razorpay_order_id,
            razorpay_signature: m.response.razorpay_signature
          });
          break;
        case 'failed':
          self._emit('payment.failed', { error: m.error });
          break;
        case 'dismiss':
          self._dismiss();
          break;
      }
    }
    // Keyboard focus stays in the modal while it is open.
    function onFocusIn(ev) {
      if (!overlay.contains(ev.target)) {
        frame.focus();
      }
    }
    function onKeyDown(ev) {
      if (ev.key === 'Escape' && (opts.modal || {}).escape !== false) {
        ev.preventDefault();
        self._dismiss();
      }
    }
    window.addEventListener('message', onMessage);
    document.addEventListener('focusin', onFocusIn);
    document.addEventListener('keydown', onKeyDown);
    frame.addEventListener('load', function () { frame.focus(); });
    document.body.appendChild(overlay);

    var timer = null;
    if (opts.timeout > 0) {
      timer = setTimeout(function () { self._dismiss(); }, opts.timeout * 1000);
    }
    this._open = function () {
      clearTimeout(timer);
      window.removeEventListener('message', onMessage);
      document.removeEventListener('focusin', onFocusIn);
      document.removeEventListener('keydown', onKeyDown);
      overlay.remove();
      if (returnFocus && typeof returnFocus.focus === 'function' && document.contains(returnFocus)) {
        returnFocus.focus();
      }
    };
    return this;
  };

  Razorpay.prototype._close = function () {
    if (this._open) {
      var teardown = this._open;
      this._open = null;
      teardown();
    }
  };

  Razorpay.prototype._dismiss = function () {
    if (!this._open) {
      return;
    }
    this._close();
    var modal = this._options.modal || {};
    if (typeof modal.ondismiss === 'function') {
      modal.ondismiss();
    }
  };

  // close closes the modal, as Razorpay's does (ondismiss is not called).
  Razorpay.prototype.close = function () {
    this._close();
  };

  Razorpay.simulator = true;
  window.Razorpay = Razorpay;
})();
