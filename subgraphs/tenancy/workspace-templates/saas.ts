/** Organisations, members, subscriptions, invoices and an audit trail. */
export const saas: string[] = [
  `CREATE TABLE organizations (
     id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
     slug varchar(63) NOT NULL UNIQUE,
     name varchar(200) NOT NULL,
     plan varchar(20) NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'pro', 'enterprise')),
     created_at timestamptz NOT NULL DEFAULT now())`,
  `CREATE TABLE users (
     id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
     email varchar(255) NOT NULL UNIQUE,
     name varchar(200),
     last_login_at timestamptz,
     created_at timestamptz NOT NULL DEFAULT now())`,
  `CREATE TABLE memberships (
     organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
     user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     role varchar(20) NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
     joined_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (organization_id, user_id))`,
  `CREATE INDEX memberships_user_id_idx ON memberships (user_id)`,
  `CREATE TABLE subscriptions (
     id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
     organization_id uuid NOT NULL UNIQUE REFERENCES organizations(id) ON DELETE CASCADE,
     status varchar(20) NOT NULL CHECK (status IN ('trialing', 'active', 'past_due', 'cancelled')),
     seats integer NOT NULL DEFAULT 1 CHECK (seats > 0),
     current_period_end timestamptz NOT NULL)`,
  `CREATE TABLE invoices (
     id bigserial PRIMARY KEY,
     organization_id uuid NOT NULL REFERENCES organizations(id),
     number varchar(32) NOT NULL UNIQUE,
     amount_cents integer NOT NULL,
     currency char(3) NOT NULL DEFAULT 'USD',
     status varchar(20) NOT NULL DEFAULT 'open' CHECK (status IN ('draft', 'open', 'paid', 'void')),
     issued_at timestamptz NOT NULL DEFAULT now())`,
  `CREATE INDEX invoices_org_issued_idx ON invoices (organization_id, issued_at DESC)`,
  `CREATE TABLE audit_events (
     id bigserial PRIMARY KEY,
     organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
     actor_id uuid REFERENCES users(id) ON DELETE SET NULL,
     action varchar(100) NOT NULL,
     metadata jsonb NOT NULL DEFAULT '{}',
     occurred_at timestamptz NOT NULL DEFAULT now())`,
  `CREATE INDEX audit_events_org_time_idx ON audit_events (organization_id, occurred_at DESC)`,
];
