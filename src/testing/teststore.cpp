// SPDX-License-Identifier: BSD-3-Clause
#include "teststore_p.h"

namespace Synq {
namespace Testing {

const TestStore::Entry *TestStore::find(const QString &collection, const QString &key) const
{
    const auto c = m_collections.constFind(collection);
    if (c == m_collections.cend())
        return nullptr;
    const auto e = c->entries.constFind(key);
    return e == c->entries.cend() ? nullptr : &*e;
}

TestStore::Entry TestStore::stateOf(const QString &collection, const QString &key) const
{
    const Entry *entry = find(collection, key);
    return entry ? *entry : Entry();
}

qint64 TestStore::write(const QString &collection, const QString &key, const QJsonObject *data,
                        const QString &hlc, QList<Undo> *undo)
{
    Collection &c = m_collections[collection];
    const auto it = c.entries.constFind(key);
    if (undo)
        undo->append({ collection, key,
                       it == c.entries.cend() ? std::nullopt : std::optional<Entry>(*it) });
    if (it != c.entries.cend())
        c.byVersion.remove(it->version);
    using PushRules::RecordState;
    const Entry entry { data ? RecordState::live(++m_currentVersion, *data)
                             : RecordState::removed(++m_currentVersion),
                        hlc };
    c.entries.insert(key, entry);
    c.byVersion.insert(entry.version, key);
    return entry.version;
}

void TestStore::takeBack(const QList<Undo> &undo, qint64 versionBefore)
{
    for (auto it = undo.crbegin(); it != undo.crend(); ++it)
        restore(*it);
    m_currentVersion = versionBefore;
}

void TestStore::restore(const Undo &undo)
{
    Collection &c = m_collections[undo.collection];
    const auto it = c.entries.constFind(undo.key);
    if (it != c.entries.cend()) {
        c.byVersion.remove(it->version);
        c.entries.remove(undo.key);
    }
    if (undo.previous) {
        c.entries.insert(undo.key, *undo.previous);
        c.byVersion.insert(undo.previous->version, undo.key);
    }
}

QList<QJsonObject> TestStore::records(const QString &collection) const
{
    QList<QJsonObject> list;
    const auto c = m_collections.constFind(collection);
    if (c == m_collections.cend())
        return list;
    for (const Entry &entry : c->entries) {
        if (entry.isLive())
            list.append(entry.data);
    }
    return list;
}

QList<Protocol::Change> TestStore::changes(const QString &collection, qint64 since, int limit,
                                           bool liveOnly, bool *hasMore) const
{
    QList<Protocol::Change> list;
    *hasMore = false;
    const auto c = m_collections.constFind(collection);
    if (c == m_collections.cend())
        return list;
    for (auto it = c->byVersion.upperBound(since); it != c->byVersion.cend(); ++it) {
        const Entry &entry = c->entries[it.value()];
        if (liveOnly && !entry.isLive())
            continue;
        if (list.size() == limit) {
            *hasMore = true;
            break;
        }
        Protocol::Change change;
        change.collection = collection;
        change.key = it.value();
        change.version = entry.version;
        change.deleted = !entry.isLive();
        if (entry.isLive())
            change.data = entry.data;
        change.hlc = entry.hlc;
        list.append(change);
    }
    return list;
}

void TestStore::clear()
{
    m_collections.clear();
    m_currentVersion = 0;
}

} // namespace Testing
} // namespace Synq
