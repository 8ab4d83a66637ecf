import { ecommerce } from './ecommerce.js';
import { fintech } from './fintech.js';
import { saas } from './saas.js';

/**
 * Built-in schemas a workspace can start from (`POST /workspaces/{id}/schema {source: template}`).
 * Plain DDL, unqualified, each statement applied in the workspace's sandbox and captured as an
 * import change, so a template deploys like any other design.
 */
export const WORKSPACE_TEMPLATES: Record<string, readonly string[]> = { fintech, ecommerce, saas };
