-- AlterTable
ALTER TABLE "telemetry"."events" ADD COLUMN     "context" JSONB,
ADD COLUMN     "message_id" TEXT;

-- CreateIndex
CREATE UNIQUE INDEX "events_tenant_id_message_id_key" ON "telemetry"."events"("tenant_id", "message_id");
