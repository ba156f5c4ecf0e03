import type { JobEventObject } from '../../jobs/events.js';

export interface WireForm {
  /** The event as sent: its JSON, as bytes, shared by every socket it goes to. */
  frame: Buffer;
  /** `created_at` as epoch milliseconds, for the delivery-lag histogram. */
  createdAt: number;
}

const forms = new WeakMap<JobEventObject, WireForm>();

/**
 * An event's encoding, made once per event object and not once per socket: a live event reaches a
 * thousand followers of a job as one object (see EventHub), so they all send the same bytes.
 */
export function wireForm(event: JobEventObject, json?: string): WireForm {
  let form = forms.get(event);
  if (!form) {
    form = { frame: Buffer.from(json ?? JSON.stringify(event)), createdAt: Date.parse(event.created_at) };
    forms.set(event, form);
  }
  return form;
}
