-- CreateTable
CREATE TABLE "tenancy"."workspaces" (
    "id" TEXT NOT NULL,
    "project_id" TEXT,
    "name" TEXT NOT NULL,
    "database_type" TEXT NOT NULL,
    "database_name" TEXT,
    "schema_name" TEXT NOT NULL,
    "login_role" TEXT,
    "login_password" TEXT,
    "version" TEXT NOT NULL DEFAULT '1.0',
    "settings" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "deleted_at" TIMESTAMPTZ(3),

    CONSTRAINT "workspaces_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tenancy"."workspace_changes" (
    "id" TEXT NOT NULL,
    "workspace_id" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "statement" TEXT NOT NULL,
    "command_tag" TEXT NOT NULL,
    "object_type" TEXT,
    "object_identity" TEXT,
    "inverse" TEXT,
    "irreversible_reason" TEXT,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "captured_via" TEXT NOT NULL,
    "blueprint_version_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "workspace_changes_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tenancy"."blueprints" (
    "id" TEXT NOT NULL,
    "project_id" TEXT,
    "name" TEXT NOT NULL,
    "database_type" TEXT NOT NULL,
    "workspace_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "blueprints_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tenancy"."blueprint_versions" (
    "id" TEXT NOT NULL,
    "blueprint_id" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "ddl" TEXT NOT NULL,
    "snapshot" JSONB NOT NULL,
    "changes" JSONB NOT NULL DEFAULT '[]',
    "checksum" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "blueprint_versions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tenancy"."tenant_databases" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "blueprint_id" TEXT NOT NULL,
    "database_type" TEXT NOT NULL,
    "isolation_level" INTEGER NOT NULL DEFAULT 1,
    "database_name" TEXT NOT NULL,
    "schema_name" TEXT NOT NULL,
    "login_role" TEXT,
    "login_password" TEXT,
    "version" TEXT,
    "status" TEXT NOT NULL DEFAULT 'ready',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "tenant_databases_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tenancy"."deployments" (
    "id" TEXT NOT NULL,
    "project_id" TEXT,
    "blueprint_id" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "deploy_all" BOOLEAN NOT NULL DEFAULT false,
    "canary_tenant_ids" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "failure_threshold" INTEGER,
    "total_tenants" INTEGER NOT NULL DEFAULT 0,
    "completed_tenants" INTEGER NOT NULL DEFAULT 0,
    "failed_tenants" INTEGER NOT NULL DEFAULT 0,
    "skipped_tenants" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    "job_id" TEXT,
    "requested_by" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "completed_at" TIMESTAMPTZ(3),

    CONSTRAINT "deployments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tenancy"."deployment_targets" (
    "id" TEXT NOT NULL,
    "deployment_id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "error" TEXT,
    "duration_ms" DOUBLE PRECISION,
    "started_at" TIMESTAMPTZ(3),
    "completed_at" TIMESTAMPTZ(3),

    CONSTRAINT "deployment_targets_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tenancy"."data_imports" (
    "id" TEXT NOT NULL,
    "workspace_id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "routing_field" TEXT NOT NULL,
    "options" JSONB NOT NULL DEFAULT '{}',
    "source" JSONB NOT NULL DEFAULT '{}',
    "progress" INTEGER NOT NULL DEFAULT 0,
    "total_tenants" INTEGER NOT NULL DEFAULT 0,
    "completed_tenants" INTEGER NOT NULL DEFAULT 0,
    "failed_tenants" INTEGER NOT NULL DEFAULT 0,
    "rows_copied" BIGINT NOT NULL DEFAULT 0,
    "failures" JSONB NOT NULL DEFAULT '[]',
    "error" TEXT,
    "job_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(3),

    CONSTRAINT "data_imports_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "workspaces_login_role_key" ON "tenancy"."workspaces"("login_role");

-- CreateIndex
CREATE UNIQUE INDEX "workspaces_project_id_name_key" ON "tenancy"."workspaces"("project_id", "name");

-- CreateIndex
CREATE UNIQUE INDEX "workspace_changes_workspace_id_seq_key" ON "tenancy"."workspace_changes"("workspace_id", "seq");

-- CreateIndex
CREATE UNIQUE INDEX "blueprints_project_id_name_key" ON "tenancy"."blueprints"("project_id", "name");

-- CreateIndex
CREATE UNIQUE INDEX "blueprint_versions_blueprint_id_version_key" ON "tenancy"."blueprint_versions"("blueprint_id", "version");

-- CreateIndex
CREATE UNIQUE INDEX "tenant_databases_login_role_key" ON "tenancy"."tenant_databases"("login_role");

-- CreateIndex
CREATE INDEX "tenant_databases_blueprint_id_idx" ON "tenancy"."tenant_databases"("blueprint_id");

-- CreateIndex
CREATE UNIQUE INDEX "tenant_databases_tenant_id_blueprint_id_key" ON "tenancy"."tenant_databases"("tenant_id", "blueprint_id");

-- CreateIndex
CREATE INDEX "deployments_project_id_created_at_idx" ON "tenancy"."deployments"("project_id", "created_at");

-- CreateIndex
CREATE INDEX "deployment_targets_tenant_id_idx" ON "tenancy"."deployment_targets"("tenant_id");

-- CreateIndex
CREATE UNIQUE INDEX "deployment_targets_deployment_id_tenant_id_key" ON "tenancy"."deployment_targets"("deployment_id", "tenant_id");

-- CreateIndex
CREATE INDEX "data_imports_workspace_id_created_at_idx" ON "tenancy"."data_imports"("workspace_id", "created_at");

-- AddForeignKey
ALTER TABLE "tenancy"."workspace_changes" ADD CONSTRAINT "workspace_changes_workspace_id_fkey" FOREIGN KEY ("workspace_id") REFERENCES "tenancy"."workspaces"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "tenancy"."blueprint_versions" ADD CONSTRAINT "blueprint_versions_blueprint_id_fkey" FOREIGN KEY ("blueprint_id") REFERENCES "tenancy"."blueprints"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "tenancy"."tenant_databases" ADD CONSTRAINT "tenant_databases_blueprint_id_fkey" FOREIGN KEY ("blueprint_id") REFERENCES "tenancy"."blueprints"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "tenancy"."deployments" ADD CONSTRAINT "deployments_blueprint_id_fkey" FOREIGN KEY ("blueprint_id") REFERENCES "tenancy"."blueprints"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "tenancy"."deployment_targets" ADD CONSTRAINT "deployment_targets_deployment_id_fkey" FOREIGN KEY ("deployment_id") REFERENCES "tenancy"."deployments"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "tenancy"."data_imports" ADD CONSTRAINT "data_imports_workspace_id_fkey" FOREIGN KEY ("workspace_id") REFERENCES "tenancy"."workspaces"("id") ON DELETE CASCADE ON UPDATE CASCADE;
