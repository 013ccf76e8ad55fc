-- An order the channel holds back (Amazon's Pending: payment not yet confirmed): reserved like
-- any other, but not picked or shipped until the channel lets it go. Says why; none for orders
-- free to ship.
ALTER TABLE orders ADD COLUMN waiting_for TEXT;
