// One batch per submission: the Idempotency-Key of POST /batch belongs to what the form holds
// (photos, angles, colours, auto-colorize), made once when that content is first submitted and
// reused for every later click on the same content, so a double click (or a click after the
// answer) names the same batch instead of paying for a second one. Pure; tested in node.

export class SubmissionKeys {
  /** @param {() => string} newKey  e.g. api.js uuid */
  constructor(newKey) {
    this.newKey = newKey;
    this.current = null; // {sig, key, batchId}
  }

  /** The key for this form content (the same while the content is the same). */
  keyFor(sig) {
    if (!this.current || this.current.sig !== sig) this.current = { sig, key: this.newKey(), batchId: null };
    return this.current.key;
  }

  /** The batch the key started (the page shows it again instead of starting another). */
  started(sig, batchId) {
    if (this.current && this.current.sig === sig) this.current.batchId = batchId;
  }

  /** The batch this exact content already started, or null. */
  batchFor(sig) {
    return this.current && this.current.sig === sig ? this.current.batchId : null;
  }
}

/** The signature of the form's content: photo ids in order, angles, colours, auto-colorize. */
export function formSignature({ photoIds, angles, colors, autoColorize }) {
  return JSON.stringify([photoIds, angles, colors, !!autoColorize]);
}
