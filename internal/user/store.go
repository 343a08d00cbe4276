package user

import "gorm.io/gorm/clause"

// forUpdate locks the row read for a read-modify-write.
var forUpdate = clause.Locking{Strength: "NO KEY UPDATE"}

// TableName keeps GORM on the migration's table.
func (User) TableName() string { return "users" }
