import { refundableAmount, type Address, type AdminEventType, type OrderContext } from '../../machines/order/index.ts';
import type { AdminEventInput } from './admin-api.client.ts';
import { one, type Form } from './console-form.ts';
import { html, type Html } from './html.ts';

/**
 * The order page's admin-event forms: one per event the machine allows now, with labelled fields
 * filled with the order's current values (or what the admin typed, when the admin API refused it),
 * and each validation error shown beside its field. Also the form → admin API payload mapping.
 */

/** What the admin typed and what was wrong with it, per field name (`shippingAddress.postalCode`, `amount`, …). */
export interface FormState {
  type: AdminEventType;
  values: Form;
  errors: Record<string, string>;
}

export const ADMIN_ACTION_LABELS: Record<AdminEventType, string> = {
  RELEASE: 'Release (resubmit to the warehouse)',
  CANCEL: 'Cancel order',
  ISSUE_DOCUMENT: 'Issue the document',
  RETRY_DOCUMENT: 'Retry the document',
  MARK_SHIPPED: 'Mark shipped',
  RESEND_TO_KSEF: 'Resend the document to KSeF',
  UPDATE_SHIPPING_ADDRESS: 'Correct the shipping address',
  UPDATE_BUYER: 'Correct the buyer data',
  ATTACH_DOCUMENT: 'Attach a document issued by hand',
  RESEND_DOCUMENT_EMAIL: 'E-mail the document again',
  REFUND: 'Refund part of the payment',
};

const ADDRESS_FIELDS: ReadonlyArray<{ key: keyof Address; label: string; required: boolean; max: number }> = [
  { key: 'name', label: 'Name', required: true, max: 200 },
  { key: 'line1', label: 'Street and number', required: true, max: 200 },
  { key: 'line2', label: 'Address line 2', required: false, max: 200 },
  { key: 'postalCode', label: 'Postal code', required: true, max: 20 },
  { key: 'city', label: 'City', required: true, max: 100 },
  { key: 'country', label: 'Country (2 letters)', required: true, max: 2 },
  { key: 'phone', label: 'Phone', required: false, max: 40 },
];

/** `body.shippingAddress.postalCode` (the admin API's field names) → `shippingAddress.postalCode` (the form's). */
export function formErrors(fields: ReadonlyArray<{ field: string; message: string }>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fields) {
    const name = f.field.replace(/^body\./, '');
    out[name] = out[name] ? `${out[name]}; ${f.message}` : f.message;
  }
  return out;
}

/** Minor units from what an admin types: `15`, `15.5`, `15,50` → 1550; null when it is not an amount. */
export function minorFromText(text: string): number | null {
  const m = /^(\d{1,12})(?:[.,](\d{1,2}))?$/.exec(text.trim());
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}

function addressFrom(form: Form, prefix: string): Record<string, string> {
  const a: Record<string, string> = {};
  for (const f of ADDRESS_FIELDS) {
    const v = one(form[`${prefix}.${f.key}`]);
    if (v !== '' || f.required) a[f.key] = f.key === 'country' ? v.toUpperCase() : v;
  }
  return a;
}

/** The admin API payload of a submitted form, or the fields wrong before it could be sent. */
export function adminEventInputFromForm(type: AdminEventType, form: Form): { input: AdminEventInput; errors: Record<string, string> } {
  const input: AdminEventInput = { type };
  const errors: Record<string, string> = {};
  const note = one(form['note']);
  if (note) input.note = note;
  switch (type) {
    case 'RELEASE':
      if (!note) errors['note'] = 'A release needs a note.';
      break;
    case 'MARK_SHIPPED':
      input.trackingNumber = one(form['trackingNumber']);
      if (!input.trackingNumber) errors['trackingNumber'] = 'Marking shipped needs a tracking number.';
      if (one(form['carrier'])) input.carrier = one(form['carrier']);
      break;
    case 'UPDATE_SHIPPING_ADDRESS':
      input.shippingAddress = addressFrom(form, 'shippingAddress');
      break;
    case 'UPDATE_BUYER': {
      const customer: Record<string, string> = { name: one(form['customer.name']) };
      if (one(form['customer.company'])) customer['company'] = one(form['customer.company']);
      if (one(form['customer.taxId'])) customer['taxId'] = one(form['customer.taxId']);
      input.customer = customer;
      input.billingAddress = addressFrom(form, 'billingAddress');
      break;
    }
    case 'ATTACH_DOCUMENT':
      input.number = one(form['number']);
      input.issueDate = one(form['issueDate']);
      break;
    case 'RESEND_DOCUMENT_EMAIL':
      if (one(form['email'])) input.email = one(form['email']);
      break;
    case 'RESEND_TO_KSEF':
      if (one(form['correctionId'])) input.correctionId = one(form['correctionId']);
      break;
    case 'REFUND': {
      const amount = minorFromText(one(form['amount']));
      if (amount === null || amount <= 0) errors['amount'] = 'Give the amount to refund, e.g. 15.00.';
      else input.amount = amount;
      input.reason = one(form['reason']);
      break;
    }
    default:
      break;
  }
  return { input, errors };
}

const csrfField = (csrf: string) => html`<input type="hidden" name="_csrf" value="${csrf}">`;

/** One labelled field with its value and, beside it, its error. */
function field(o: { name: string; label: string; value: string; errors: Record<string, string>; type?: string; required?: boolean; max?: number; size?: number; extra?: string }): Html {
  const err = o.errors[o.name];
  const id = `f-${o.name.replace(/\W/g, '-')}-${Math.random().toString(36).slice(2, 7)}`;
  return html`<label for="${id}">${o.label}${o.required ? ' *' : ''}</label><input id="${id}" type="${o.type ?? 'text'}" name="${o.name}" value="${o.value}"${o.required ? html` required` : ''}${o.max ? html` maxlength="${o.max}"` : ''}${o.size ? html` size="${o.size}"` : ''}${err ? html` aria-invalid="true"` : ''}>${err ? html`<span class="field-error" role="alert" data-field="${o.name}">${err}</span>` : ''}`;
}

function addressFields(prefix: string, current: Address, values: Form | null, errors: Record<string, string>): Html {
  return html`${ADDRESS_FIELDS.map((f) =>
    field({ name: `${prefix}.${f.key}`, label: f.label, value: values ? one(values[`${prefix}.${f.key}`]) : (current[f.key] ?? ''), errors, required: f.required, max: f.max }),
  )}${errors[prefix] ? html`<span class="field-error" role="alert" data-field="${prefix}">${errors[prefix]}</span>` : ''}`;
}

/** The form of one admin event on an order page (`state`: what was typed and refused, for this form only). */
export function adminEventForm(orderId: string, ctx: OrderContext, type: AdminEventType, csrf: string, state: FormState | null): Html {
  const mine = state !== null && state.type === type ? state : null;
  const values = mine?.values ?? null;
  const errors = mine?.errors ?? {};
  const v = (name: string, current: string) => (values ? one(values[name]) : current);
  const note = (label: string, required: boolean) => field({ name: 'note', label, value: v('note', ''), errors, required, max: 2000, size: 40 });
  const label = ADMIN_ACTION_LABELS[type];
  const open = html`<form method="post" action="/admin/orders/${encodeURIComponent(orderId)}/events" id="action-${type}" data-key="${type}" data-action="${type}" class="admin-event${mine ? ' has-errors' : ''}">
${csrfField(csrf)}<input type="hidden" name="type" value="${type}"><input type="hidden" name="nonce" value="${crypto.randomUUID()}">`;
  const submit = (cls = '', confirm = '') => html`<button type="submit"${cls ? html` class="${cls}"` : ''}${confirm ? html` onclick="return confirm('${confirm}')"` : ''}>${label}</button></form>`;
  switch (type) {
    case 'RELEASE':
      return html`${open}${note('Note (required)', true)}${submit()}`;
    case 'MARK_SHIPPED':
      return html`${open}${field({ name: 'trackingNumber', label: 'Tracking number', value: v('trackingNumber', ''), errors, required: true, max: 200 })}${field({ name: 'carrier', label: 'Carrier', value: v('carrier', ''), errors, max: 100 })}${note('Note', false)}${submit()}`;
    case 'CANCEL':
      return html`${open}${note(ctx.payment ? 'Why (the payment is refunded and the document corrected)' : 'Why', false)}${submit('danger', ctx.payment ? 'Cancel this order, refund the payment and correct the document?' : 'Cancel this order?')}`;
    case 'UPDATE_SHIPPING_ADDRESS':
      return html`${open}<fieldset><legend>Shipping address</legend>${addressFields('shippingAddress', ctx.order.shippingAddress, values, errors)}</fieldset>${note('Note (required)', true)}${submit()}`;
    case 'UPDATE_BUYER': {
      const c = ctx.order.customer;
      return html`${open}<fieldset><legend>Buyer</legend>${field({ name: 'customer.name', label: 'Name', value: v('customer.name', c.name), errors, required: true, max: 200 })}${field({ name: 'customer.company', label: 'Company', value: v('customer.company', c.company ?? ''), errors, max: 200 })}${field({ name: 'customer.taxId', label: 'Tax id (NIP)', value: v('customer.taxId', c.taxId ?? ''), errors, max: 40 })}</fieldset>
<fieldset><legend>Billing address</legend>${addressFields('billingAddress', ctx.order.billingAddress, values, errors)}</fieldset>${note('Note (required)', true)}${submit()}`;
    }
    case 'ATTACH_DOCUMENT':
      return html`${open}${field({ name: 'number', label: 'Document number', value: v('number', ''), errors, required: true, max: 200 })}${field({ name: 'issueDate', label: 'Issue date', value: v('issueDate', ''), errors, required: true, type: 'date' })}${note('Note (required)', true)}${submit()}`;
    case 'RESEND_DOCUMENT_EMAIL':
      return html`${open}${field({ name: 'email', label: 'To', value: v('email', ctx.order.customer.email), errors, type: 'email', max: 254, size: 30 })}${note('Note', false)}${submit()}`;
    case 'RESEND_TO_KSEF': {
      // The invoice when KSeF refused it; else (or as well) a correction KSeF refused.
      const rejected = (ctx.corrections ?? []).filter((c) => c.status === 'ksefRejected' && c.document);
      const invoiceRejected = ctx.ksef?.status === 'rejected';
      if (rejected.length === 0) return html`${open}${note('Note', false)}${submit()}`;
      const chosen = v('correctionId', invoiceRejected ? '' : (rejected[0]?.correctionId ?? ''));
      return html`${open}<label>Document <select name="correctionId">${invoiceRejected ? html`<option value=""${chosen === '' ? html` selected` : ''}>the invoice ${ctx.document?.number ?? ''}</option>` : ''}${rejected.map((c) => html`<option value="${c.correctionId}"${chosen === c.correctionId ? html` selected` : ''}>correction ${c.document?.number ?? c.correctionId}</option>`)}</select></label>${errors['correctionId'] ? html`<span class="field-error" role="alert" data-field="correctionId">${errors['correctionId']}</span>` : ''}${note('Note', false)}${submit()}`;
    }
    case 'REFUND': {
      const left = refundableAmount(ctx);
      return html`${open}${field({ name: 'amount', label: `Amount (${ctx.order.currency}, at most ${(left / 100).toFixed(2)})`, value: v('amount', ''), errors, required: true, max: 16, size: 10 })}${field({ name: 'reason', label: 'Reason (on the correction)', value: v('reason', ''), errors, required: true, max: 500, size: 30 })}${note('Note', false)}${submit()}`;
    }
    default:
      return html`${open}${note('Note', false)}${submit()}`;
  }
}
