/*
 * The simulator's checkout page, shown in the modal that checkout.js opens.
 * It talks only to the merchant origin named in ?origin= (and only to the
 * window that framed it), and only to its own server.
 */
(function () {
  'use strict';

  var $ = function (id) { return document.getElementById(id); };
  var parentOrigin = null;
  try {
    var named = new URLSearchParams(window.location.search).get('origin');
    if (named && new URL(named).origin === named) {
      parentOrigin = named;
    }
  } catch (e) {
    parentOrigin = null;
  }
  var options = null;
  var busy = false;

  function post(message) {
    window.parent.postMessage(message, parentOrigin);
  }

  // rupees writes integer paise as rupees with Indian digit grouping, by
  // string arithmetic only (₹1,25,000.00).
  function rupees(paise) {
    var s = String(paise);
    if (!/^[0-9]+$/.test(s)) {
      return '₹?';
    }
    s = s.padStart(3, '0');
    var whole = s.slice(0, -2).replace(/^0+(?=[0-9])/, '');
    var head = whole.slice(0, -3);
    var grouped = head ? head.replace(/\B(?=([0-9]{2})+$)/g, ',') + ',' + whole.slice(-3) : whole;
    return '₹' + grouped + '.' + s.slice(-2);
  }

  function status(text) {
    $('status').textContent = text;
  }

  function showResult(text, canRetry) {
    $('pay-form').hidden = true;
    $('result-text').textContent = text;
    $('retry').hidden = !canRetry;
    $('result').hidden = false;
    (canRetry ? $('retry') : $('done')).focus();
  }

  function dismiss() {
    if (!busy) {
      post({ rzpsim: 'dismiss' });
    }
  }

  function method() {
    var checked = document.querySelector('input[name="method"]:checked');
    return checked ? checked.value : 'upi';
  }

  function pay(outcome) {
    if (busy) {
      return;
    }
    busy = true;
    $('pay').disabled = $('decline').disabled = true;
    status(outcome === 'captured' ? 'Processing your payment…' : 'Declining the payment…');
    fetch('/v1/checkout/payments', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ key_id: options.key, order_id: options.order_id, method: method(), outcome: outcome })
    }).then(function (res) {
      return res.json().then(function (body) { return { ok: res.ok, body: body }; });
    }).then(function (r) {
      busy = false;
      $('pay').disabled = $('decline').disabled = false;
      if (r.ok && r.body.razorpay_payment_id) {
        status('Payment successful.');
        post({ rzpsim: 'success', response: r.body });
        return;
      }
      var err = r.body && r.body.error ? r.body.error : { description: 'The payment could not be made.' };
      if (r.ok) {
        status('');
        post({ rzpsim: 'failed', error: err });
        showResult(err.description || 'The payment failed.', options.retry.enabled);
        return;
      }
      status('');
      showResult('The payment could not be made: ' + err.description, false);
    }).catch(function () {
      busy = false;
      $('pay').disabled = $('decline').disabled = false;
      status('');
      showResult('The checkout server did not answer. Nothing was charged.', true);
    });
  }

  function start(opts) {
    options = opts;
    $('merchant').textContent = opts.name || 'Checkout';
    $('description').textContent = opts.description || '';
    if (/^#[0-9a-fA-F]{3,8}$/.test(opts.theme.color)) {
      document.documentElement.style.setProperty('--theme', opts.theme.color);
    }
    var who = [opts.prefill.email, opts.prefill.contact].filter(Boolean).join(' · ');
    if (who) {
      $('contact').textContent = who;
      $('contact').hidden = false;
    }
    if (opts.prefill.method) {
      var pre = document.querySelector('input[name="method"][value="' + CSS.escape(opts.prefill.method) + '"]');
      if (pre) {
        pre.checked = true;
      }
    }
    fetch('/v1/checkout/orders/' + encodeURIComponent(opts.order_id) + '?key_id=' + encodeURIComponent(opts.key))
      .then(function (res) {
        return res.json().then(function (body) { return { ok: res.ok, body: body }; });
      }).then(function (r) {
        $('checkout').setAttribute('aria-busy', 'false');
        if (!r.ok) {
          showResult('This payment cannot be made: ' + ((r.body.error || {}).description || 'unknown order'), false);
          return;
        }
        $('amount').textContent = rupees(r.body.amount);
        if (r.body.status === 'paid') {
          showResult('This order is already paid.', false);
          return;
        }
        $('pay').textContent = 'Pay ' + rupees(r.body.amount);
        $('pay-form').hidden = false;
        document.querySelector('input[name="method"]:checked').focus();
      }).catch(function () {
        showResult('The checkout server did not answer.', false);
      });
  }

  window.addEventListener('message', function (ev) {
    if (ev.origin !== parentOrigin || ev.source !== window.parent || options) {
      return;
    }
    if (ev.data && ev.data.rzpsim === 'options' && ev.data.options) {
      start(ev.data.options);
    }
  });
  window.addEventListener('focus', function () {
    if (document.activeElement === document.body) {
      var first = document.querySelector('#checkout input:checked:not([disabled]), #result:not([hidden]) button:not([hidden]), #close');
      if (first) {
        first.focus();
      }
    }
  });
  document.addEventListener('keydown', function (ev) {
    if (ev.key === 'Escape' && options && options.escape) {
      ev.preventDefault();
      dismiss();
    }
  });
  // Tab and Shift+Tab wrap around inside the checkout, as a modal dialog's
  // focus does: past its last control focus goes to its first, never out
  // of the frame to the merchant's page or the browser's own controls.
  // A radio group is one stop: its checked radio.
  function tabStops() {
    return Array.prototype.filter.call(document.querySelectorAll('button, input, a[href], [tabindex]:not([tabindex="-1"])'), function (e) {
      return !e.disabled && e.getClientRects().length > 0 && (e.type !== 'radio' || e.checked);
    });
  }
  document.addEventListener('keydown', function (ev) {
    if (ev.key !== 'Tab' || ev.altKey || ev.ctrlKey || ev.metaKey) {
      return;
    }
    var stops = tabStops();
    if (stops.length === 0) {
      return;
    }
    var first = stops[0];
    var last = stops[stops.length - 1];
    var at = document.activeElement;
    if (ev.shiftKey && (at === first || at === document.body)) {
      ev.preventDefault();
      last.focus();
    } else if (!ev.shiftKey && (at === last || at === document.body)) {
      ev.preventDefault();
      first.focus();
    }
  });
  $('pay-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    pay('captured');
  });
  $('decline').addEventListener('click', function () { pay('failed'); });
  $('retry').addEventListener('click', function () {
    $('result').hidden = true;
    $('pay-form').hidden = false;
    document.querySelector('input[name="method"]:checked').focus();
  });
  $('done').addEventListener('click', dismiss);
  $('close').addEventListener('click', dismiss);

  if (!parentOrigin || window.parent === window) {
    $('checkout').setAttribute('aria-busy', 'false');
    showResult('This page is the simulator\'s checkout: a merchant page opens it with checkout.js.', false);
    return;
  }
  post({ rzpsim: 'ready' });
})();
