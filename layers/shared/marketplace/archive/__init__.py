"""The ZIP export of a batch (issue 12): every completed cell's PNG, `matrix.png` and
`manifest.json` in one archive, built off the request path by the BuildArchive Lambda.

`service` is the API's side (light to import); `build` the builder's (Pillow, zipfile: imported
by the builder only); `zipstream` streams S3 objects into an S3 multipart upload; `names` makes
labels into file names; `manifest` describes the batch; `contact_sheet` draws `matrix.png` (the
one implementation, the CLI's `batch download` uses it too); `store` keeps the archive's row.
"""
