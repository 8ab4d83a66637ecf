-- AlterTable
ALTER TABLE "telemetry"."events" ADD COLUMN     "actor_id" TEXT;

-- CreateIndex
CREATE INDEX "events_actor_id_idx" ON "telemetry"."events"("actor_id");
