DROP INDEX `deliveries_endpoint`;--> statement-breakpoint
CREATE INDEX `deliveries_endpoint_status` ON `deliveries` (`endpoint_id`,`status`,`id`);--> statement-breakpoint
CREATE INDEX `deliveries_endpoint_event` ON `deliveries` (`endpoint_id`,`event_type`,`status`,`id`);