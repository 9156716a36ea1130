-- The demo organisation: a small software shop whose customers register
-- products, order, pay invoices, open support tickets, read the newsletter
-- and leave traces in the web logs. Written for PostgreSQL and SQLite;
-- MySQL and MariaDB get it through mysqlDDL in demo.go.

CREATE TABLE addresses (
    id          BIGINT PRIMARY KEY,
    street      TEXT NOT NULL,
    city        TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    country     TEXT NOT NULL
);

CREATE TABLE customers (
    id         BIGINT PRIMARY KEY,
    full_name  TEXT NOT NULL,
    email      TEXT NOT NULL UNIQUE,
    phone      TEXT,
    address_id BIGINT REFERENCES addresses (id),
    created_at TIMESTAMP NOT NULL,
    newsletter BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE INDEX customers_address ON customers (address_id);

CREATE TABLE accounts (
    id            BIGINT PRIMARY KEY,
    customer_id   BIGINT NOT NULL REFERENCES customers (id),
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX accounts_customer ON accounts (customer_id);

CREATE TABLE product_registrations (
    id            BIGINT PRIMARY KEY,
    customer_id   BIGINT NOT NULL REFERENCES customers (id),
    product       TEXT NOT NULL,
    os_version    TEXT NOT NULL,
    licence_key   TEXT NOT NULL,
    registered_at TIMESTAMP NOT NULL
);
CREATE INDEX product_registrations_customer ON product_registrations (customer_id);

CREATE TABLE orders (
    id          BIGINT PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    placed_at   TIMESTAMP NOT NULL,
    total_cents BIGINT NOT NULL
);
CREATE INDEX orders_customer ON orders (customer_id);

CREATE TABLE invoices (
    id              BIGINT PRIMARY KEY,
    order_id        BIGINT REFERENCES orders (id),
    billing_name    TEXT NOT NULL,
    billing_address TEXT NOT NULL,
    card_last4      TEXT,
    amount_cents    BIGINT NOT NULL,
    issued_at       TIMESTAMP NOT NULL,
    restricted      BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX invoices_order ON invoices (order_id);

CREATE TABLE support_tickets (
    id          BIGINT PRIMARY KEY,
    customer_id BIGINT REFERENCES customers (id),
    subject     TEXT NOT NULL,
    body        TEXT NOT NULL,
    opened_at   TIMESTAMP NOT NULL
);
CREATE INDEX support_tickets_customer ON support_tickets (customer_id);

CREATE TABLE newsletter_subscriptions (
    id            BIGINT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    subscribed_at TIMESTAMP NOT NULL
);

CREATE TABLE web_logs (
    id          BIGINT PRIMARY KEY,
    customer_id BIGINT REFERENCES customers (id),
    ip_address  TEXT,
    user_agent  TEXT,
    path        TEXT NOT NULL,
    at          TIMESTAMP NOT NULL
);
CREATE INDEX web_logs_customer ON web_logs (customer_id);
