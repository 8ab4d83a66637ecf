import { createHash } from 'node:crypto';
import WebSocket from 'ws';
import { verifyEdgeSignature } from '../../subgraphs/edge/services/signing.js';
import { waitFor } from './rest.js';

// A simulated edge device for tests: a real WebSocket client of the gateway that verifies the
// Ed25519-signed manifest and artifact it is sent, then reports the states its behaviour says.

export type Behaviour = 'succeed' | 'fail-once' | 'rollback' | 'fail';

/** A simulated device: verifies what it is sent, then walks the states its behaviour says. */
export class SimDevice {
  ws!: WebSocket;
  received: Array<Record<string, unknown>> = [];
  deployments: Array<Record<string, unknown>> = [];
  verified = true;
  attemptsSeen = 0;
  sentReports = new Map<string, Record<string, unknown>>();
  private refs = 0;
  constructor(
    readonly deviceId: string,
    readonly token: string,
    readonly publicKey: string,
    public behaviour: Behaviour = 'succeed',
  ) {}

  async connect(url: string): Promise<void> {
    this.ws = new WebSocket(`${url.replace('http', 'ws')}/api/v1/edge/devices/connect`, {
      headers: { authorization: `Bearer ${this.token}` },
    });
    this.ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as Record<string, unknown>;
      this.received.push(message);
      if (message.type === 'deployment') void this.work(message);
      // A device resends a report the platform could not take (as a real agent would).
      if (message.type === 'error' && message.code === 'INTERNAL_ERROR' && typeof message.ref === 'string') {
        const original = this.sentReports.get(message.ref);
        if (original) this.send(original);
      }
    });
    await new Promise<void>((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    await waitFor(async () => (this.received.some((m) => m.type === 'welcome') ? true : undefined), 'welcome');
  }

  send(message: Record<string, unknown>) {
    this.ws.send(JSON.stringify(message));
  }

  private async work(message: Record<string, unknown>) {
    this.deployments.push(message);
    const manifest = Buffer.from(message.manifest as string, 'base64');
    const artifact = message.artifact as { content_base64: string; sha256: string; signature: string } | null;
    const manifestOk =
      createHash('sha256').update(manifest).digest('hex') === message.manifest_sha256 &&
      verifyEdgeSignature(this.publicKey, manifest, message.manifest_signature as string);
    const bytes = artifact ? Buffer.from(artifact.content_base64, 'base64') : null;
    const artifactOk =
      !artifact ||
      (createHash('sha256').update(bytes!).digest('hex') === artifact.sha256 &&
        verifyEdgeSignature(this.publicKey, bytes!, artifact.signature));
    if (!manifestOk || !artifactOk) this.verified = false;
    const id = message.deployment_id as string;
    this.attemptsSeen += 1;
    const status = (state: string) => {
      const report = { type: 'status', ref: `s${(this.refs += 1)}`, deployment_id: id, state };
      this.sentReports.set(report.ref, report);
      this.send(report);
    };
    status('downloading');
    status('installing');
    const failNow =
      this.behaviour === 'fail' ||
      this.behaviour === 'rollback' ||
      (this.behaviour === 'fail-once' && (message.attempt as number) === 1);
    if (failNow) {
      status(this.behaviour === 'rollback' && message.rollback_on_failure ? 'rolled_back' : 'failed');
      return;
    }
    status('rebooting');
    status('committed');
  }

  close() {
    this.ws?.close();
  }
}
