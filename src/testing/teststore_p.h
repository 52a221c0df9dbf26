// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_TESTSTORE_P_H
#define SYNQ_TESTSTORE_P_H

//
//  W A R N I N G
//  -------------
//
// This file is not part of the Synq API. It may change from version to version without notice.
//

#include <synq/protocol.h>
#include <synq/pushrules.h>

#include <QtCore/QHash>
#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QMap>
#include <QtCore/QString>

#include <optional>

namespace Synq {
namespace Testing {

/*
    What a TestBackend holds: the latest state of every key (a record or a tombstone, with the
    hybrid logical clock stamp of the write that made it) and the change feed, with one version
    counter for all collections. Writes can be taken back, the versions they took included, so
    a failed transaction leaves no trace, not even a gap.
*/
class TestStore
{
public:
    // Live or Removed (Missing only from stateOf() for a key never written).
    struct Entry : PushRules::RecordState
    {
        QString hlc; // empty: the write had no stamp
    };

    // One write, remembered so that it can be taken back.
    struct Undo
    {
        QString collection;
        QString key;
        std::optional<Entry> previous;
    };

    const Entry *find(const QString &collection, const QString &key) const;
    // The entry, or Missing for a key never written.
    Entry stateOf(const QString &collection, const QString &key) const;

    // Writes the next version of key: the record data, or a tombstone when data is null, with
    // the write's stamp hlc (empty: none).
    qint64 write(const QString &collection, const QString &key, const QJsonObject *data,
                 const QString &hlc, QList<Undo> *undo = nullptr);
    // Takes back the writes in undo (newest first) and the versions handed out after
    // versionBefore.
    void takeBack(const QList<Undo> &undo, qint64 versionBefore);

    // The live records of collection, ordered by key.
    QList<QJsonObject> records(const QString &collection) const;
    // The changes of collection after version since, in version order, each key once with its
    // latest state, at most limit of them (hasMore tells whether more wait); liveOnly leaves
    // out tombstones.
    QList<Protocol::Change> changes(const QString &collection, qint64 since, int limit,
                                    bool liveOnly, bool *hasMore) const;

    qint64 currentVersion() const { return m_currentVersion; }
    // Hands out a version without writing (taken back by takeBack() like a write's).
    void skipVersion() { ++m_currentVersion; }
    void clear();

private:
    struct Collection
    {
        QMap<QString, Entry> entries; // key -> latest state (a QMap: records() in key order)
        QMap<qint64, QString> byVersion; // version -> key, the change feed
    };

    void restore(const Undo &undo);

    QHash<QString, Collection> m_collections;
    qint64 m_currentVersion = 0;
};

} // namespace Testing
} // namespace Synq

#endif
