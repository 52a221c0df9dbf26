// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_IDENTIFIER_H
#define SYNQ_IDENTIFIER_H

#include <synq/synq_export.h>

#include <QtCore/QString>
#include <QtCore/QStringView>

namespace Synq {

/*
    Collection and field names are identifiers: an ASCII letter or underscore, then letters,
    digits or underscores, at most 64 characters, and not one of SQLite's reserved "sqlite_"
    names. Synq never splices names into SQL (they are always bound values), so this is a
    second wall: a name that looks like SQL is refused with a clear error long before any
    statement sees it.
*/
SYNQ_EXPORT bool isValidIdentifier(QStringView name);

/*
    The id of one item across collections: collection + '/' + key. Collection names are
    identifiers and cannot hold '/', so two different items never share an id, whatever their
    keys hold.
*/
SYNQ_EXPORT QString itemId(const QString &collection, const QString &key);

} // namespace Synq

#endif
