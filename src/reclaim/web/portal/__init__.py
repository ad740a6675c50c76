"""The survivor portal: register by hashes, sign in with a case number and passphrase,
read the case plainly, change consents, add URLs and files, withdraw."""
