import nodemailer, { Transporter } from 'nodemailer';
import { Notification } from '../notification';
import { emailBody } from '../templates';
import { Channel, DeliveryError, SendResult } from './channel';

/** Email over SMTP with nodemailer: a text and an HTML part; SMTP 4xx and network faults are retried. */
export class EmailChannel implements Channel {
  readonly name = 'email' as const;
  private readonly transport: Transporter | undefined;

  constructor(smtpUrl: string, private readonly from: string, private readonly to: string[], private readonly timeoutMs: number) {
    if (smtpUrl) {
      this.transport = nodemailer.createTransport(smtpUrl, {
        pool: true,
        maxConnections: 2,
        connectionTimeout: timeoutMs,
        greetingTimeout: timeoutMs,
        socketTimeout: timeoutMs,
      } as Parameters<typeof nodemailer.createTransport>[1]);
    }
  }

  get configured() {
    return this.transport !== undefined && this.to.length > 0;
  }

  async send(n: Notification): Promise<SendResult> {
    const { subject, text, html } = emailBody(n);
    try {
      await this.transport!.sendMail({
        from: this.from,
        to: this.to,
        subject,
        text,
        html,
        messageId: `<${encodeURIComponent(n.alert_id)}.${n.sequence}@finops-alerts>`,
        headers: { 'X-FinOps-Alert-Id': n.alert_id, 'X-FinOps-Alert-Sequence': String(n.sequence) },
      });
      return { status: 250 };
    } catch (err) {
      const code = (err as { responseCode?: number }).responseCode;
      const retriable = code === undefined || (code >= 400 && code < 500);
      throw new DeliveryError('email', `SMTP ${code ?? 'connection'} error: ${(err as Error).message}`, { retriable, status: code, cause: err });
    }
  }

  async close(): Promise<void> {
    this.transport?.close();
  }
}
