"""The data layer: one DynamoDB table, split by what it stores. Typed records in, typed records
out (``marketplace.domain``); keys from ``marketplace.keys``; conditional-write failures mapped in
one place (``table.conditional``)."""
