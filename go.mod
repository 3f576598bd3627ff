module github.com/tesseracard/tessera

go 1.26
