// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_REMAPPING_H
#define SYNQ_REMAPPING_H

#include <synq/records.h>
#include <synq/synq_export.h>

#include <QtCore/QHash>
#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QString>
#include <QtCore/QStringList>
#include <QtCore/QVariantList>

#include <functional>

namespace Synq {
namespace Remapping {

/*
    Keys the server assigns and the relations between collections (requirements I2-I5, P4), as
    pure functions over records.

    The relation graph. A Relation says that a field of one collection holds the key of an item
    of another: {from: "todos.projectId", to: "projects", required: true}. A reference is the
    field's value when it is a non-empty string (or an integral number, taken as its decimal
    text); null, an absent field or "" refers to nothing.

    Remapping. When the server gives an inserted item its own key, every place that holds the
    client's key takes the server's: the item's key, the references to it in rows of any
    collection (through the graph), and everything pending — the key of each mutation on the
    item, and every string equal to the client key anywhere in a mutation's original, modified
    and changes objects, however deep (arrays and nested objects included). Client keys are
    random, time-ordered strings (KeyGenerator), so a string equal to one is a reference to
    that item and nothing else.
*/

struct SYNQ_EXPORT Relation
{
    QString collection; // the referencing collection ("todos")
    QString field; // its field holding the key ("projectId")
    QString target; // the referenced collection ("projects")
    bool required = false; // an orphan aborts the pull (the integrity gate); else reported

    // "todos.projectId"
    QString from() const { return collection + QLatin1Char('.') + field; }
    // {from, to, required}: the form SyncEngine.relations takes.
    QVariantMap toVariantMap() const;
    friend bool operator==(const Relation &a, const Relation &b)
    {
        return a.collection == b.collection && a.field == b.field && a.target == b.target
                && a.required == b.required;
    }
};

// The graph from SyncEngine.relations: each entry a map {from: "collection.field", to:
// "collection", required: bool (default false)} with identifiers for every name and nothing
// else in it; a field takes part in one relation at most. On a bad entry *error says which and
// why, and nothing is returned.
SYNQ_EXPORT QList<Relation> parseRelations(const QVariantList &entries, QString *error);

// The collections in an order where a relation's target comes before the collections that
// refer to it (its children), otherwise as given; collections that refer to each other in a
// cycle come together, in their given order, after what any of them refers to.
SYNQ_EXPORT QStringList parentsFirst(const QStringList &collections,
                                     const QList<Relation> &relations);

// One reference a record holds through the graph.
struct Reference
{
    Relation relation;
    QString key; // the referenced item's key in relation.target
};

// The key a value refers to, or an empty string for none.
SYNQ_EXPORT QString referenceKey(const QJsonValue &value);
// What a record of collection refers to, in the order of relations.
SYNQ_EXPORT QList<Reference> references(const QString &collection, const QJsonObject &record,
                                        const QList<Relation> &relations);
// The item ids (itemId()) a mutation refers to: of its insert's record or its update's changes
// (a removal refers to nothing).
SYNQ_EXPORT QStringList referencedItems(const MutationRecord &mutation,
                                        const QList<Relation> &relations);

// An item the server gave a key of its own.
struct KeyChange
{
    QString collection;
    QString clientKey;
    QString serverKey;
    friend bool operator==(const KeyChange &a, const KeyChange &b)
    {
        return a.collection == b.collection && a.clientKey == b.clientKey
                && a.serverKey == b.serverKey;
    }
};

/*
    A set of key changes, applied to records. Each apply() returns whether it changed
    anything; applying the same changes again changes nothing more (a server key is never a
    client key of the same set: such a change is dropped when the set is made).
*/
class SYNQ_EXPORT KeyChanges
{
public:
    KeyChanges() = default;
    explicit KeyChanges(const QList<KeyChange> &changes);

    bool isEmpty() const { return m_list.isEmpty(); }
    const QList<KeyChange> &list() const { return m_list; }
    // The server key of a remapped item, or key itself.
    QString resolve(const QString &collection, const QString &key) const;

    // Every string equal to a client key, at any depth.
    bool apply(QJsonObject &object) const;
    bool apply(QJsonValue &value) const;
    // The key of a mutation on a remapped item, and its payloads.
    bool apply(MutationRecord &mutation) const;
    bool apply(TransactionRecord &transaction) const;
    bool apply(ConflictRecord &conflict) const;
    // The references a stored row of collection holds through the graph, and its own key
    // field (keyField) when it is the client key of the row itself.
    bool applyToRow(const QString &collection, const QString &keyField, QJsonObject &row,
                    const QList<Relation> &relations) const;

private:
    QList<KeyChange> m_list;
    QHash<QString, QString> m_byItem; // itemId(collection, client key) -> server key
    QHash<QString, QString> m_byKey; // client key -> server key
};

// An orphan the integrity gate found: a row refers to an item its target does not have.
struct SYNQ_EXPORT Orphan
{
    QString collection;
    QString key;
    Relation relation;
    QString missingKey;

    // {collection, key, field, target, missingKey, required}
    QVariantMap toVariantMap() const;
};

// The orphans among rows (collection, key, record) of collection: references whose target
// item does not exist, as exists(target, key) tells.
struct Row
{
    QString key;
    QJsonObject record;
};
SYNQ_EXPORT QList<Orphan>
orphans(const QString &collection, const QList<Row> &rows, const QList<Relation> &relations,
        const std::function<bool(const QString &collection, const QString &key)> &exists);

} // namespace Remapping
} // namespace Synq

#endif
