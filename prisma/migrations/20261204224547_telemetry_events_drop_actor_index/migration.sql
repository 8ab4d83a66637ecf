-- DropIndex
DROP INDEX "telemetry"."events_actor_id_idx";
