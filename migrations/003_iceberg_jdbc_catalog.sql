-- The Iceberg JDBC catalog, in the layout Apache Iceberg's Java JdbcCatalog creates (schema V1: the
-- V0 table plus iceberg_type) and pyiceberg's SqlCatalog expects, so Spark, Trino, Flink, pyiceberg
-- and DuckDB read the tables we commit. Names and types are theirs; do not "improve" them.
-- IF NOT EXISTS: either engine may have created the catalog in this database before us.
CREATE TABLE IF NOT EXISTS iceberg_tables (
    catalog_name               VARCHAR(255) NOT NULL,
    table_namespace            VARCHAR(255) NOT NULL,
    table_name                 VARCHAR(255) NOT NULL,
    metadata_location          VARCHAR(1000),
    previous_metadata_location VARCHAR(1000),
    iceberg_type               VARCHAR(5),
    PRIMARY KEY (catalog_name, table_namespace, table_name)
);

-- A V0 catalog (created by an older engine) is upgraded to V1 exactly as JdbcCatalog does it.
-- iceberg_type stays nullable without a default: NULL reads as 'TABLE' in V1, and pyiceberg inserts
-- rows without it.
ALTER TABLE iceberg_tables ADD COLUMN IF NOT EXISTS iceberg_type VARCHAR(5);

CREATE TABLE IF NOT EXISTS iceberg_namespace_properties (
    catalog_name   VARCHAR(255) NOT NULL,
    namespace      VARCHAR(255) NOT NULL,
    property_key   VARCHAR(255),
    property_value VARCHAR(1000),
    PRIMARY KEY (catalog_name, namespace, property_key)
);
