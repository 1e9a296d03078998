// Money in the browser: FinFlow's amounts are integer paise, and they stay
// integers here. Rupees are written and read by string arithmetic on the
// digits; nothing is divided, multiplied or parsed as a floating-point
// number.

// MAX_PAISE is the contract's largest amount (10^12 paise).
export const MAX_PAISE = 1000000000000;

// digitsOf returns the decimal digits of a whole number of paise as the
// API sent it (a JSON integer), or null if it is not one.
function digitsOf(paise) {
  if (typeof paise === 'number' && Number.isSafeInteger(paise)) {
    return String(paise);
  }
  if (typeof paise === 'bigint') {
    return paise.toString();
  }
  if (typeof paise === 'string' && /^-?[0-9]+$/.test(paise)) {
    return paise;
  }
  return null;
}

// group writes whole rupees with Indian digit grouping: 12,34,567.
function group(whole) {
  if (whole.length <= 3) {
    return whole;
  }
  const head = whole.slice(0, -3);
  return head.replace(/\B(?=([0-9]{2})+$)/g, ',') + ',' + whole.slice(-3);
}

// rupees writes paise as rupees: 125000 is "₹1,250.00", -5 is "−₹0.05".
// An amount that is not a whole number is shown as "₹?" rather than
// guessed at.
export function rupees(paise) {
  let d = digitsOf(paise);
  if (d === null) {
    return '₹?';
  }
  const negative = d.startsWith('-');
  if (negative) {
    d = d.slice(1);
  }
  d = d.replace(/^0+/, '').padStart(3, '0');
  const text = '₹' + group(d.slice(0, -2)) + '.' + d.slice(-2);
  return negative ? '−' + text : text;
}

// signed writes a ledger amount with its direction: "+₹500.00" for a
// credit, "−₹250.00" for a debit.
export function signed(paise, credit) {
  return (credit ? '+' : '−') + rupees(paise);
}

// paiseDigits returns the digits of a whole number of paise (as rupees()
// reads it), or '' when it is not one: for data attributes, which must
// hold the exact amount or nothing.
export function paiseDigits(paise) {
  return digitsOf(paise) || '';
}

// grouped is a whole number of rupees with real digit grouping: none
// (1250000), Indian (12,50,000: groups of two before the last three) or
// international (1,250,000: groups of three). The last group is always
// three digits, so "1,50" is no grouping at all.
const grouped = /^(?:[0-9]+|[1-9][0-9]?(?:,[0-9]{2})*,[0-9]{3}|[1-9][0-9]{0,2}(?:,[0-9]{3})+)$/;

// toPaise reads what a customer typed in rupees ("500", "250.5",
// "1,250.75", "12,34,567", "₹ 99") and returns {paise} as a safe integer,
// or {error} in plain words. A comma that does not group digits (as in
// "1,50", where some write a decimal comma) is refused rather than read as
// ₹150.00.
export function toPaise(text) {
  const s = String(text).trim().replace(/^₹\s*/, '');
  if (s === '') {
    return { error: 'Enter an amount in rupees, like 500 or 250.50.' };
  }
  const m = /^([0-9,]+)(?:\.([0-9]*))?$/.exec(s);
  if (!m) {
    return { error: 'Write the amount with digits and at most one decimal point, like 250.50.' };
  }
  if (!grouped.test(m[1])) {
    const decimalComma = /^([0-9]+),([0-9]{1,2})$/.exec(s);
    return {
      error: decimalComma
        ? 'Use a point for paise, like ' + decimalComma[1] + '.' + decimalComma[2].padEnd(2, '0') + '.'
        : 'Commas only group digits, like 1,250 or 1,25,000; use a point for paise, like 250.50.',
    };
  }
  const whole = m[1].replace(/,/g, '').replace(/^0+(?=[0-9])/, '');
  const fraction = m[2] || '';
  if (fraction.length > 2) {
    return { error: 'An amount has at most two digits after the point (paise).' };
  }
  const digits = (whole + fraction.padEnd(2, '0')).replace(/^0+(?=[0-9])/, '');
  if (digits.length > 13 || (digits.length === 13 && digits > String(MAX_PAISE))) {
    return { error: 'That is more than FinFlow can take at once (' + rupees(MAX_PAISE) + ').' };
  }
  const paise = Number(digits); // at most 13 digits: an exact integer
  if (paise === 0) {
    return { error: 'The amount must be more than ₹0.00.' };
  }
  return { paise };
}
