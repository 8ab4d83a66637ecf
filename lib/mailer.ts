import nodemailer from 'nodemailer';
import type { Logger } from './logger.js';

/** Outgoing mail, as services see it: one plain-text message at a time. */
export interface Mailer {
  send(message: { to: string; subject: string; text: string }): Promise<void>;
  /** Connects and authenticates to the server without sending (health checks); throws when it cannot. */
  verify?(): Promise<void>;
  close(): void;
}

/**
 * An SMTP mailer from a connection URL (`smtp://user:pass@host:587`, `smtps://...` for implicit
 * TLS). nodemailer pools nothing here: sign-in codes are rare, and one connection per message
 * keeps a dead server from holding a stale socket.
 */
export function createSmtpMailer({ url, from, logger }: { url: string; from: string; logger?: Logger }): Mailer {
  // nodemailer waits minutes for a silent server by default; a sign-in waiting on its code must not.
  const transport = nodemailer.createTransport({
    url,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
  });
  return {
    async send({ to, subject, text }) {
      const info = await transport.sendMail({ from, to, subject, text });
      logger?.debug({ messageId: info.messageId }, 'mail sent');
    },
    async verify() {
      await transport.verify();
    },
    close() {
      transport.close();
    },
  };
}

/** The mailer a process gets from its env: none when SMTP is not configured. */
export function createMailerFromEnv(
  env: { SMTP_URL?: string | undefined; SMTP_FROM: string },
  logger?: Logger,
): Mailer | undefined {
  return env.SMTP_URL ? createSmtpMailer({ url: env.SMTP_URL, from: env.SMTP_FROM, logger }) : undefined;
}
