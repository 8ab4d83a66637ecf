-- isolation_level was the text "schema" on every existing row; it becomes the documented level 1.
-- AlterTable
ALTER TABLE "tenancy"."tenants" ADD COLUMN     "admin_user_id" TEXT,
ADD COLUMN     "database_name" TEXT,
ADD COLUMN     "database_status" TEXT NOT NULL DEFAULT 'ready',
ADD COLUMN     "db_role" TEXT,
ADD COLUMN     "deleted_at" TIMESTAMPTZ(3),
ADD COLUMN     "domain" TEXT,
ADD COLUMN     "extensions" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "features" JSONB NOT NULL DEFAULT '{}',
ADD COLUMN     "limits" JSONB NOT NULL DEFAULT '{}',
ADD COLUMN     "suspended_at" TIMESTAMPTZ(3),
DROP COLUMN "isolation_level",
ADD COLUMN     "isolation_level" INTEGER NOT NULL DEFAULT 1;

-- CreateTable
CREATE TABLE "tenancy"."query_logs" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "source" TEXT NOT NULL,
    "statement" TEXT NOT NULL,
    "statement_kind" TEXT,
    "read_only" BOOLEAN NOT NULL,
    "status" TEXT NOT NULL,
    "error_code" TEXT,
    "error_message" TEXT,
    "duration_ms" DOUBLE PRECISION NOT NULL,
    "row_count" INTEGER,
    "slow" BOOLEAN NOT NULL DEFAULT false,
    "actor_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "query_logs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tenancy"."tenant_migration_scripts" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "up_sql" TEXT NOT NULL,
    "down_sql" TEXT,
    "checksum" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "tenant_migration_scripts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tenancy"."tenant_applied_migrations" (
    "tenant_id" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "checksum" TEXT NOT NULL,
    "execution_ms" DOUBLE PRECISION NOT NULL,
    "applied_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "tenant_applied_migrations_pkey" PRIMARY KEY ("tenant_id","version")
);

-- CreateTable
CREATE TABLE "tenancy"."tenant_migration_runs" (
    "id" TEXT NOT NULL,
    "migration_id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "schema_name" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "direction" TEXT NOT NULL,
    "dry_run" BOOLEAN NOT NULL DEFAULT false,
    "status" TEXT NOT NULL,
    "error" TEXT,
    "execution_ms" DOUBLE PRECISION,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "tenant_migration_runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tenancy"."tenant_backups" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "storage_path" TEXT,
    "size_bytes" BIGINT,
    "schemas" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "tables" INTEGER,
    "rows" BIGINT,
    "checksum" TEXT,
    "error" TEXT,
    "requested_by" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(3),

    CONSTRAINT "tenant_backups_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tenancy"."tenant_operations" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "progress" INTEGER NOT NULL DEFAULT 0,
    "input" JSONB NOT NULL DEFAULT '{}',
    "result" JSONB NOT NULL DEFAULT '{}',
    "error" TEXT,
    "job_id" TEXT,
    "requested_by" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(3),

    CONSTRAINT "tenant_operations_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "query_logs_tenant_id_created_at_idx" ON "tenancy"."query_logs"("tenant_id", "created_at");

-- CreateIndex
CREATE INDEX "query_logs_tenant_id_status_created_at_idx" ON "tenancy"."query_logs"("tenant_id", "status", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "tenant_migration_scripts_tenant_id_version_key" ON "tenancy"."tenant_migration_scripts"("tenant_id", "version");

-- CreateIndex
CREATE INDEX "tenant_migration_runs_tenant_id_created_at_idx" ON "tenancy"."tenant_migration_runs"("tenant_id", "created_at");

-- CreateIndex
CREATE INDEX "tenant_migration_runs_migration_id_idx" ON "tenancy"."tenant_migration_runs"("migration_id");

-- CreateIndex
CREATE INDEX "tenant_backups_tenant_id_created_at_idx" ON "tenancy"."tenant_backups"("tenant_id", "created_at");

-- CreateIndex
CREATE INDEX "tenant_operations_tenant_id_created_at_idx" ON "tenancy"."tenant_operations"("tenant_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "tenants_db_role_key" ON "tenancy"."tenants"("db_role");

-- CreateIndex
CREATE UNIQUE INDEX "tenants_domain_key" ON "tenancy"."tenants"("domain");

-- CreateIndex
CREATE INDEX "tenants_status_idx" ON "tenancy"."tenants"("status");

-- AddForeignKey
ALTER TABLE "tenancy"."query_logs" ADD CONSTRAINT "query_logs_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenancy"."tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "tenancy"."tenant_migration_scripts" ADD CONSTRAINT "tenant_migration_scripts_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenancy"."tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "tenancy"."tenant_applied_migrations" ADD CONSTRAINT "tenant_applied_migrations_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenancy"."tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "tenancy"."tenant_migration_runs" ADD CONSTRAINT "tenant_migration_runs_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenancy"."tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "tenancy"."tenant_backups" ADD CONSTRAINT "tenant_backups_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenancy"."tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "tenancy"."tenant_operations" ADD CONSTRAINT "tenant_operations_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenancy"."tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;
