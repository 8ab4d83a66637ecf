/** Catalogue, customers, carts and orders with their lines, and payments. */
export const ecommerce: string[] = [
  `CREATE TABLE categories (
     id serial PRIMARY KEY,
     parent_id integer REFERENCES categories(id),
     slug varchar(100) NOT NULL UNIQUE,
     name varchar(200) NOT NULL)`,
  `CREATE TABLE products (
     id bigserial PRIMARY KEY,
     category_id integer REFERENCES categories(id),
     sku varchar(64) NOT NULL UNIQUE,
     name varchar(200) NOT NULL,
     description text,
     price_cents integer NOT NULL CHECK (price_cents >= 0),
     stock integer NOT NULL DEFAULT 0 CHECK (stock >= 0),
     active boolean NOT NULL DEFAULT true,
     created_at timestamptz NOT NULL DEFAULT now())`,
  `CREATE INDEX products_category_id_idx ON products (category_id)`,
  `CREATE TABLE customers (
     id bigserial PRIMARY KEY,
     email varchar(255) NOT NULL UNIQUE,
     name varchar(200),
     created_at timestamptz NOT NULL DEFAULT now())`,
  `CREATE TABLE orders (
     id bigserial PRIMARY KEY,
     customer_id bigint NOT NULL REFERENCES customers(id),
     status varchar(20) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled')),
     total_cents integer NOT NULL DEFAULT 0,
     shipping_address jsonb,
     placed_at timestamptz NOT NULL DEFAULT now())`,
  `CREATE INDEX orders_customer_placed_idx ON orders (customer_id, placed_at DESC)`,
  `CREATE TABLE order_items (
     order_id bigint NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
     product_id bigint NOT NULL REFERENCES products(id),
     quantity integer NOT NULL CHECK (quantity > 0),
     unit_price_cents integer NOT NULL,
     PRIMARY KEY (order_id, product_id))`,
  `CREATE TABLE payments (
     id bigserial PRIMARY KEY,
     order_id bigint NOT NULL REFERENCES orders(id),
     provider varchar(40) NOT NULL,
     provider_ref varchar(100) UNIQUE,
     amount_cents integer NOT NULL,
     status varchar(20) NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now())`,
  `CREATE INDEX payments_order_id_idx ON payments (order_id)`,
];
